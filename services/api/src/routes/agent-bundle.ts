import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

export interface BuiltAgent {
  /** The whole agent in one ES module. */
  code: Uint8Array;
  /** sha256 of `code`, hex. */
  sha256: string;
  /** services/agent/package.json's version. */
  version: string;
}

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
 */
export class AgentBundle {
  private built: Promise<BuiltAgent> | undefined;

  constructor(private readonly agentDir: string) {}

  get(): Promise<BuiltAgent> {
    // A failed build is not kept: the next request tries again (and logs again, through onError).
    this.built ??= this.build().catch((err: unknown) => {
      this.built = undefined;
      throw err;
    });
    return this.built;
  }

  private async build(): Promise<BuiltAgent> {
    const { build, stop } = await import('esbuild');
    // The same options as services/agent's `npm run build` (package.json): one ESM file for Node 20,
    // with a `require` for the CommonJS dependencies (ws) that esbuild inlines.
    // Its service process is needed no more after this one build (per API process).
    const result = await build({
      entryPoints: [`${this.agentDir}src/main.ts`],
      absWorkingDir: this.agentDir,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'esm',
      write: false,
      outfile: 'vmo-agent.mjs',
      logLevel: 'silent',
      banner: { js: "import { createRequire as __vmoCreateRequire } from 'node:module'; const require = __vmoCreateRequire(import.meta.url);" },
    }).finally(() => stop());
    const code = result.outputFiles[0]!.contents;
    const { version } = JSON.parse(await readFile(`${this.agentDir}package.json`, 'utf8')) as { version: string };
    return { code, sha256: createHash('sha256').update(code).digest('hex'), version };
  }
}
