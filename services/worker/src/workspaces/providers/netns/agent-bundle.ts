import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { access, copyFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { AGENT_SHA256_HEADER } from '@vmo/shared/api';

/**
 * The agent a sandbox runs: the one the control plane serves (GET /v1/agent/download), as any
 * machine installs it, cached in `<stateDir>/agent/vmo-agent.mjs` and fetched again only when its
 * ETag changes (a new release). Its SHA-256 header is checked before the file replaces the cached
 * one. An operator may name a local bundle instead (VMO_NETNS_AGENT_BUNDLE, e.g. the output of
 * `npm run build -w @vmo/agent`), for hosts whose worker cannot reach the download.
 */
export async function agentBundleDir(opts: { stateDir: string; serverUrl: string; localBundle?: string; signal?: AbortSignal; log: (line: string) => void }): Promise<string> {
  const dir = join(opts.stateDir, 'agent');
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const file = join(dir, 'vmo-agent.mjs');
  const tmp = `${file}.${process.pid}.tmp`;
  if (opts.localBundle) {
    await copyFile(opts.localBundle, tmp);
    await rename(tmp, file);
    return dir;
  }
  const shaFile = join(dir, 'vmo-agent.sha256');
  // The cached hash counts only with its file beside it.
  const cached = await access(file).then(() => readFile(shaFile, 'utf8').then((s) => s.trim()), () => undefined).catch(() => undefined);
  const url = new URL('/v1/agent/download', opts.serverUrl);
  const res = await fetch(url, { headers: cached ? { 'if-none-match': `"${cached}"` } : {}, signal: opts.signal });
  if (res.status === 304 && cached) return dir;
  if (res.status !== 200) throw new Error(`netns: could not download the agent from ${url.origin} (${res.status}); set VMO_NETNS_AGENT_BUNDLE to a built vmo-agent.mjs instead`);
  const body = Buffer.from(await res.arrayBuffer());
  const sha = createHash('sha256').update(body).digest('hex');
  const expected = res.headers.get(AGENT_SHA256_HEADER) ?? res.headers.get('etag')?.replace(/"/g, '');
  if (expected && expected !== sha) throw new Error(`netns: the agent downloaded from ${url.origin} does not match its checksum`);
  await writeFile(tmp, body, { mode: 0o644 });
  await rename(tmp, file);
  await writeFile(shaFile, `${sha}\n`);
  opts.log(`fetched the agent (${body.length} bytes, sha256 ${sha.slice(0, 12)}…)`);
  return dir;
}

/** node-pty's directory as the worker resolves it (the agent offers shells with it), or undefined. */
export function nodePtyDir(): string | undefined {
  try {
    return dirname(createRequire(import.meta.url).resolve('node-pty/package.json'));
  } catch {
    return undefined;
  }
}
