import { request } from 'node:http';

/**
 * A minimal Docker Engine API client over node:http (no dependency): a unix socket
 * (`unix:///var/run/docker.sock`, the default) or plain TCP (`tcp://host:2375`, as DOCKER_HOST
 * gives it). TLS (`tcp://…:2376` with certificates) is not supported: put the engine behind its
 * socket or an SSH tunnel. Paths are unversioned: the engine answers with its own API version.
 */
export interface DockerEndpoint {
  socketPath?: string;
  host?: string;
  port?: number;
  /** For messages: what the endpoint was given as. */
  label: string;
}

export class DockerEngineError extends Error {
  override name = 'DockerEngineError';
  constructor(
    message: string,
    readonly statusCode: number | null,
  ) {
    super(message);
  }
}

export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';

/** `unix:///path`, `tcp://host:port`, `http://host:port`, or a bare absolute socket path. */
export function dockerEndpoint(host: string | undefined = process.env.DOCKER_HOST || DEFAULT_DOCKER_HOST): DockerEndpoint {
  if (host.startsWith('unix://')) return { socketPath: host.slice('unix://'.length), label: host };
  if (host.startsWith('/')) return { socketPath: host, label: `unix://${host}` };
  const m = /^(?:tcp|http):\/\/([^:/]+|\[[^\]]+\]):(\d+)\/?$/.exec(host);
  if (m) return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]), label: host };
  throw new DockerEngineError(`docker: host ${JSON.stringify(host)} is not unix:///path or tcp://host:port (TLS endpoints are not supported)`, null);
}

export interface EngineAnswer {
  statusCode: number;
  body: string;
}

/**
 * One request to the engine. `body` is sent as JSON. The answer's body is read whole (the pull
 * stream included: it ends when the pull does). LOUD: error messages never quote the request
 * body, which holds the agent's token in the container's environment.
 */
export function engineRequest(endpoint: DockerEndpoint, method: string, path: string, opts: { body?: unknown; signal?: AbortSignal; timeoutMs?: number } = {}): Promise<EngineAnswer> {
  const payload = opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body));
  return new Promise((resolve, reject) => {
    const req = request(
      {
        ...(endpoint.socketPath ? { socketPath: endpoint.socketPath } : { host: endpoint.host, port: endpoint.port }),
        method,
        path,
        headers: { host: 'docker', ...(payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {}) },
        ...(opts.signal ? { signal: opts.signal } : {}),
        timeout: opts.timeoutMs ?? 120_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new DockerEngineError(`docker: ${method} ${path.split('?')[0]} got no answer from ${endpoint.label} in time`, null)));
    req.on('error', (err) => {
      if (opts.signal?.aborted) return reject(opts.signal.reason instanceof Error ? opts.signal.reason : err);
      reject(err instanceof DockerEngineError ? err : new DockerEngineError(`docker: the engine at ${endpoint.label} does not answer (${(err as NodeJS.ErrnoException).code ?? err.message})`, null));
    });
    req.end(payload);
  });
}

/** The engine's own words for a failed request (`{"message": …}`), else the status. */
export function engineMessage(answer: EngineAnswer): string {
  try {
    const parsed = JSON.parse(answer.body) as { message?: unknown };
    if (typeof parsed.message === 'string') return parsed.message;
  } catch {
    // not JSON: fall through
  }
  return `HTTP ${answer.statusCode}`;
}

/** Does an engine answer at `endpoint`? (GET /_ping → OK.) Never throws. */
export async function pingEngine(endpoint: DockerEndpoint, timeoutMs = 2000): Promise<boolean> {
  try {
    const answer = await engineRequest(endpoint, 'GET', '/_ping', { timeoutMs });
    return answer.statusCode === 200;
  } catch {
    return false;
  }
}
