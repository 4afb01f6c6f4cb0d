/**
 * A stand-in for the Docker Engine API on a unix socket: the few endpoints the docker provider
 * calls, answering as the engine documents them (status codes, `{"message"}` errors, a pull's
 * JSON-lines stream), with containers, volumes and images in memory. It lets the provider's logic
 * (idempotency, a remade container, errors, cancel) be tested on a machine with no engine; it is
 * not the engine, and the test says so: the real-engine suite runs only where one answers.
 *
 * Knobs: an image whose name contains `crash` exits (code 3) right after its start; one whose
 * name starts with `private/` cannot be pulled.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomBytes } from 'node:crypto';

export interface StandinContainer {
  Id: string;
  Name: string;
  Config: { Image: string; Env: string[]; Labels: Record<string, string>; Hostname: string };
  HostConfig: Record<string, unknown>;
  State: { Status: string; Running: boolean; ExitCode: number };
}

export class DockerStandin {
  readonly containers = new Map<string, StandinContainer>();
  readonly volumes = new Map<string, Record<string, string>>();
  readonly images = new Set<string>(['busybox:latest']);
  /** Every request, as `METHOD /path` (no query), for counting calls. */
  readonly calls: string[] = [];
  /** Request bodies as received (the test checks what the provider sends). */
  readonly bodies: { call: string; body: unknown }[] = [];
  private server: Server | undefined;

  constructor(readonly socketPath: string) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      void this.handle(req, res).catch((err) => this.send(res, 500, { message: String(err) }));
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.socketPath, resolve);
    });
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private send(res: ServerResponse, status: number, body?: unknown, raw?: string) {
    if (raw !== undefined) {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(raw);
    } else if (body === undefined) {
      res.writeHead(status);
      res.end();
    } else {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    }
  }

  private hasImage(ref: string) {
    return this.images.has(ref) || this.images.has(`${ref}:latest`);
  }

  private async handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url!, 'http://docker');
    const path = decodeURIComponent(url.pathname);
    const method = req.method!;
    this.calls.push(`${method} ${path}`);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
    if (body !== undefined) this.bodies.push({ call: `${method} ${path}`, body });
    const noSuch = (what: string) => this.send(res, 404, { message: `No such ${what}` });
    let m: RegExpExecArray | null;

    if (method === 'GET' && path === '/_ping') return this.send(res, 200, undefined, 'OK');
    if (method === 'GET' && path === '/containers/json') {
      const filters = JSON.parse(url.searchParams.get('filters') ?? '{}') as { label?: string[] };
      const list = [...this.containers.values()].filter((c) => (filters.label ?? []).every((l) => {
        const [k, v] = l.split('=');
        return c.Config.Labels[k!] === v;
      }));
      return this.send(res, 200, list.map((c) => ({ Id: c.Id, Names: [`/${c.Name}`], Labels: c.Config.Labels, State: c.State.Status })));
    }
    if ((m = /^\/containers\/([^/]+)\/json$/.exec(path)) && method === 'GET') {
      const c = this.containers.get(m[1]!);
      return c ? this.send(res, 200, c) : noSuch(`container: ${m[1]}`);
    }
    if (method === 'POST' && path === '/containers/create') {
      const name = url.searchParams.get('name')!;
      if (this.containers.has(name)) return this.send(res, 409, { message: `Conflict. The container name "/${name}" is already in use` });
      const b = body as { Image: string; Env?: string[]; Labels?: Record<string, string>; Hostname?: string; HostConfig?: Record<string, unknown> };
      if (!this.hasImage(b.Image)) return noSuch(`image: ${b.Image}`);
      const c: StandinContainer = {
        Id: randomBytes(32).toString('hex'),
        Name: name,
        Config: { Image: b.Image, Env: b.Env ?? [], Labels: b.Labels ?? {}, Hostname: b.Hostname ?? '' },
        HostConfig: b.HostConfig ?? {},
        State: { Status: 'created', Running: false, ExitCode: 0 },
      };
      this.containers.set(name, c);
      return this.send(res, 201, { Id: c.Id, Warnings: [] });
    }
    if ((m = /^\/containers\/([^/]+)\/(start|stop)$/.exec(path)) && method === 'POST') {
      const c = this.containers.get(m[1]!);
      if (!c) return noSuch(`container: ${m[1]}`);
      if (m[2] === 'start') {
        if (c.State.Running) return this.send(res, 304);
        c.State = c.Config.Image.includes('crash') ? { Status: 'exited', Running: false, ExitCode: 3 } : { Status: 'running', Running: true, ExitCode: 0 };
        return this.send(res, 204);
      }
      if (!c.State.Running) return this.send(res, 304);
      c.State = { Status: 'exited', Running: false, ExitCode: 137 };
      return this.send(res, 204);
    }
    if ((m = /^\/containers\/([^/]+)$/.exec(path)) && method === 'DELETE') {
      const c = this.containers.get(m[1]!);
      if (!c) return noSuch(`container: ${m[1]}`);
      if (c.State.Running && url.searchParams.get('force') !== 'true') return this.send(res, 409, { message: 'You cannot remove a running container' });
      this.containers.delete(m[1]!);
      return this.send(res, 204);
    }
    if (method === 'POST' && path === '/volumes/create') {
      const b = body as { Name: string; Labels?: Record<string, string> };
      if (!this.volumes.has(b.Name)) this.volumes.set(b.Name, b.Labels ?? {});
      return this.send(res, 201, { Name: b.Name, Labels: this.volumes.get(b.Name) });
    }
    if ((m = /^\/volumes\/([^/]+)$/.exec(path)) && method === 'DELETE') {
      if (!this.volumes.has(m[1]!)) return noSuch(`volume: ${m[1]}`);
      const inUse = [...this.containers.values()].some((c) => ((c.HostConfig.Mounts ?? []) as { Source: string }[]).some((mt) => mt.Source === m![1]));
      if (inUse) return this.send(res, 409, { message: 'volume is in use' });
      this.volumes.delete(m[1]!);
      return this.send(res, 204);
    }
    if ((m = /^\/images\/(.+)\/json$/.exec(path)) && method === 'GET') {
      return this.hasImage(m[1]!) ? this.send(res, 200, { Id: 'sha256:x', RepoTags: [m[1]] }) : noSuch(`image: ${m[1]}`);
    }
    if (method === 'POST' && path === '/images/create') {
      const from = url.searchParams.get('fromImage')!;
      const tag = url.searchParams.get('tag');
      const lines = [{ status: `Pulling from ${from}` }];
      if (from.startsWith('private/')) {
        lines.push({ error: `pull access denied for ${from}, repository does not exist or may require 'docker login'` } as never);
      } else {
        this.images.add(tag ? `${from}:${tag}` : from);
        lines.push({ status: `Status: Downloaded newer image for ${from}:${tag}` });
      }
      return this.send(res, 200, undefined, lines.map((l) => JSON.stringify(l)).join('\r\n') + '\r\n');
    }
    return this.send(res, 404, { message: `page not found: ${method} ${path}` });
  }
}
