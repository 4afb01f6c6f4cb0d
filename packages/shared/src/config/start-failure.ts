import { parsePostgresUrl } from './postgres-url.ts';

/**
 * Why a start cannot work, in one line an operator can act on: the cause and the setting to
 * change (issue 12, Start-up and errors). `explainStartFailure` recognises what a start meets
 * when the machine is not ready for it (Postgres or Redis refused or unknown, a role or password
 * refused, a port in use); anything else is a bug and keeps its stack (startup.ts).
 *
 * LOUD: never a URL (it may carry a password), a token or a value from the environment: hosts,
 * ports, role and database names only.
 */
export class StartFailure extends Error {
  override name = 'StartFailure';
  constructor(
    message: string,
    /** 69 (EX_UNAVAILABLE): may clear by itself, a restart may do; 78 (EX_CONFIG): a setting must change. */
    readonly exitCode: 69 | 78,
  ) {
    super(message);
  }
}

export const EX_UNAVAILABLE = 69;
export const EX_CONFIG = 78;

type Settings = Readonly<Record<string, unknown>>;

interface Where {
  host: string;
  port: number;
  user: string;
  database: string;
}

/** Host, port, user and database of a store's URL; never its password. */
export function whereOf(url: unknown, defaultPort: number): Where | undefined {
  if (typeof url !== 'string') return undefined;
  if (/^postgres(ql)?:/.test(url)) {
    // Several hosts (postgres-url.ts): the first one stands for them.
    const u = parsePostgresUrl(url);
    return u && { host: u.hosts[0]!.host, port: u.hosts[0]!.port, user: u.user, database: u.database };
  }
  try {
    const u = new URL(url);
    return { host: u.hostname || '127.0.0.1', port: Number(u.port) || defaultPort, user: decodeURIComponent(u.username), database: decodeURIComponent(u.pathname.slice(1)) };
  } catch {
    return undefined;
  }
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND', 'ECONNRESET']);

/** The one line and exit code for a failure a start can meet, or undefined for anything else. */
export function explainStartFailure(err: unknown, settings: Settings): StartFailure | undefined {
  if (err instanceof StartFailure) return err;
  if (!(err instanceof Error)) return undefined;
  const e = err as Error & { code?: unknown; syscall?: unknown; port?: unknown; address?: unknown; hostname?: unknown; severity?: unknown };
  const code = typeof e.code === 'string' ? e.code : undefined;
  if (code === undefined) return undefined;

  if (e.syscall === 'listen') return listenFailure(code, e.port, settings);

  const pg = whereOf(settings.VMO_DATABASE_URL, 5432);
  const oneNode = settings.VMO_REDIS_SENTINELS === undefined && settings.VMO_REDIS_CLUSTER_NODES === undefined;
  const redis = oneNode ? whereOf(settings.VMO_REDIS_URL ?? 'redis://127.0.0.1:6379', 6379) : undefined;
  if (UNREACHABLE.has(code)) {
    // Only Postgres stops a start (Redis is checked first, startup.ts); a port names which anyway.
    const isRedis = redis !== undefined && e.port === redis.port && pg?.port !== redis.port;
    return isRedis ? unreachable('Redis', 'VMO_REDIS_URL', redis, code) : pg ? unreachable('Postgres', 'VMO_DATABASE_URL', pg, code) : undefined;
  }
  // A Postgres error: SQLSTATE and severity (postgres.js's PostgresError).
  if (typeof e.severity === 'string' && /^[0-9A-Z]{5}$/.test(code)) return postgresFailure(code, e.message, pg);
  return undefined;
}

export function unreachable(store: 'Postgres' | 'Redis', variable: string, at: Where, code: string): StartFailure {
  const where = `${at.host}:${at.port}`;
  if (code === 'ECONNREFUSED') return new StartFailure(`${store} refused the connection at ${where} (is it running?): start it, or set ${variable}`, EX_UNAVAILABLE);
  if (code === 'ENOTFOUND') return new StartFailure(`${store} host "${at.host}" is unknown (no such name): set ${variable}`, EX_CONFIG);
  if (code === 'EAI_AGAIN') return new StartFailure(`${store} host "${at.host}" could not be looked up (DNS did not answer): check the name resolution, or set ${variable}`, EX_UNAVAILABLE);
  return new StartFailure(`${store} at ${where} did not answer (${code}): check it is running and reachable from here, or set ${variable}`, EX_UNAVAILABLE);
}

function postgresFailure(code: string, message: string, at: Where | undefined): StartFailure {
  const role = at?.user ? `role "${at.user}"` : 'the role';
  const where = at ? ` at ${at.host}:${at.port}` : '';
  // The server's message for these names a role, a database or pg_hba.conf, never a password.
  if (code === '28P01') return new StartFailure(`Postgres${where} refused the password of ${role}: set VMO_DATABASE_URL (or VMO_DATABASE_URL_FILE)`, EX_CONFIG);
  if (code === '28000') return new StartFailure(`Postgres${where} refused the login: ${message}: create the role or allow it in pg_hba.conf, or set VMO_DATABASE_URL`, EX_CONFIG);
  if (code === '3D000') return new StartFailure(`Postgres${where}: ${message}: create it, or set VMO_DATABASE_URL`, EX_CONFIG);
  if (code === '42501') return new StartFailure(`Postgres${where}: ${role} may not do what a start needs (create the database "${at?.database ?? ''}", run the migrations): ${message}: grant it, or set VMO_DATABASE_URL`, EX_CONFIG);
  if (code === '57P03') return new StartFailure(`Postgres${where} is starting up or shutting down: start vmo again once it answers (VMO_DATABASE_URL)`, EX_UNAVAILABLE);
  if (code === '53300') return new StartFailure(`Postgres${where} has no connection left (too many clients): raise max_connections or lower the pools, or set VMO_DATABASE_URL`, EX_UNAVAILABLE);
  return new StartFailure(`Postgres${where} refused the start: ${message} (SQLSTATE ${code}): check VMO_DATABASE_URL`, EX_CONFIG);
}

function listenFailure(code: string, port: unknown, settings: Settings): StartFailure | undefined {
  // Which setting asked for that port (VMO_PORT, VMO_METRICS_PORT, …).
  const variable = Object.keys(settings).find((k) => k.endsWith('_PORT') && settings[k] === port) ?? 'VMO_PORT';
  const host = typeof settings.VMO_HOST === 'string' ? settings.VMO_HOST : undefined;
  if (code === 'EADDRINUSE') return new StartFailure(`port ${String(port)} is in use by another process (is vmo already running?): stop it, or set ${variable}`, EX_UNAVAILABLE);
  if (code === 'EACCES') return new StartFailure(`not allowed to listen on port ${String(port)} (below 1024 needs root or CAP_NET_BIND_SERVICE): set ${variable}`, EX_CONFIG);
  if (code === 'EADDRNOTAVAIL') return new StartFailure(`${host ?? 'the listen address'} is not an address of this machine: set VMO_HOST`, EX_CONFIG);
  return undefined;
}
