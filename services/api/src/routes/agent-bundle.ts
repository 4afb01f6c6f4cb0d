import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import type { BuildOptions } from 'esbuild';
import type { Logger } from '@vmo/shared/logger';

export interface BuiltAgent {
  /** The whole agent in one ES module. */
  code: Uint8Array;
  /** sha256 of `code`, hex. */
  sha256: string;
  /** services/agent/package.json's version. */
  version: string;
}

/** A build failed a short while ago: the route answers 503 with this, and builds again only after `retryAfterSeconds`. */
export class AgentBundleUnavailable extends Error {
  constructor(readonly retryAfterSeconds: number) {
    super(`the agent bundle could not be built on this API node (see its log); retry in ${retryAfterSeconds} s`);
    this.name = 'AgentBundleUnavailable';
  }
}

export interface AgentBundleOptions {
  /** Where a build failure is logged, once per failed build (with its cause). */
  log?: Pick<Logger, 'error'>;
  /** How long a failed build is remembered: requests meanwhile are refused without building (default 60 s). */
  retryAfterMs?: number;
  /** The clock (tests move it). */
  now?: () => number;
}

/** What services/agent/build-options.mjs exports. */
type AgentBuildOptions = (agentDir: string) => BuildOptions;

/**
 * The bundled agent that GET /v1/agent/download serves, built from the agent's sources with
 * esbuild's JS API, in memory, once per process on the first request.
 *
 * Why built here, and not read from services/agent/dist: a dist left by an older `npm run build`
 * would be served as if it were this release's agent (and nothing would say so), `npm start` from
 * a fresh clone has no dist, and the image's file system need not be writable (the API runs as
 * `node`). Built in memory from the very sources the API runs with, every node of a release serves
 * the same bytes. Cost: about a second of CPU and ~1 MiB held, on the first download only (API
 * processes that never serve it, as in most tests, never build it). esbuild is a dependency of
 * @vmo/api for this (plain JS plus a prebuilt binary package: no install script needed).
 *
 * The options are the agent's own (services/agent/build-options.mjs, which `npm run build` uses
 * too), loaded from the agent's directory as a file: the API does not import the agent's package.
 *
 * LOUD: the download needs no credential, so a build must not be something anyone can trigger at
 * will. At most one build runs at a time (every request waits on the same one), and a failed build
 * is remembered for `retryAfterMs`: until then every request is refused at once (503) instead of
 * building again.
 */
export class AgentBundle {
  private built: Promise<BuiltAgent> | undefined;
  private failedAt: number | undefined;
  private started = 0;
  private readonly retryAfterMs: number;
  private readonly now: () => number;

  constructor(
    private readonly agentDir: string,
    private readonly options: AgentBundleOptions = {},
  ) {
    this.retryAfterMs = options.retryAfterMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  /** How many builds this bundle has started (one, in a healthy process). */
  get buildsStarted(): number {
    return this.started;
  }

  /** The built agent; rejects with AgentBundleUnavailable while a failed build is remembered. */
  get(): Promise<BuiltAgent> {
    if (this.built) return this.built;
    if (this.failedAt !== undefined) {
      const left = this.failedAt + this.retryAfterMs - this.now();
      if (left > 0) return Promise.reject(new AgentBundleUnavailable(Math.ceil(left / 1000)));
      this.failedAt = undefined;
    }
    this.started++;
    // Set before the build's first await: a request arriving meanwhile waits on this same build.
    this.built = this.build().catch((err: unknown) => {
      this.built = undefined;
      this.failedAt = this.now();
      this.options.log?.error({ err }, `could not build the agent bundle from ${this.agentDir} (GET /v1/agent/download answers 503 for ${Math.round(this.retryAfterMs / 1000)} s, then tries again)`);
      throw new AgentBundleUnavailable(Math.ceil(this.retryAfterMs / 1000));
    });
    return this.built;
  }

  private async build(): Promise<BuiltAgent> {
    const { agentBuildOptions } = (await import(pathToFileURL(`${this.agentDir}build-options.mjs`).href)) as { agentBuildOptions: AgentBuildOptions };
    const { build, stop } = await import('esbuild');
    // Its service process is needed no more after this one build (per API process).
    const result = await build({ ...agentBuildOptions(this.agentDir), write: false, outfile: 'vmo-agent.mjs', logLevel: 'silent' }).finally(() => stop());
    const code = result.outputFiles[0]!.contents;
    const { version } = JSON.parse(await readFile(`${this.agentDir}package.json`, 'utf8')) as { version: string };
    return { code, sha256: createHash('sha256').update(code).digest('hex'), version };
  }
}
