/**
 * `VMO_DATABASE_URL` may name several hosts (libpq's form, which postgres.js reads too):
 * `postgres://user:pw@db1:5432,db2:5432/vmo?target_session_attrs=read-write`. The WHATWG URL
 * parser refuses a host list, so everything that reads the URL goes through here (issue 19).
 */
export interface PostgresUrl {
  hosts: { host: string; port: number }[];
  /** The database name (decoded); empty when the URL has none. */
  database: string;
  user: string;
  /** The query string's parameters (`target_session_attrs`, `sslmode`, …). */
  params: URLSearchParams;
  /** The same URL (every host, credentials, parameters) naming another database. */
  withDatabase(name: string): string;
}

const SHAPE = /^(postgres(?:ql)?:\/\/)([^@/?#]*@)?([^/?#]*)(\/[^?#]*)?(\?[^#]*)?$/;

/** Parse, or undefined when it is not a postgres:// URL with valid hosts and ports. */
export function parsePostgresUrl(url: string): PostgresUrl | undefined {
  const m = SHAPE.exec(url);
  if (!m) return undefined;
  const [, scheme, auth = '', hostList = '', path = '', query = ''] = m;
  const hosts: { host: string; port: number }[] = [];
  for (const item of hostList === '' ? ['127.0.0.1'] : hostList.split(',')) {
    const h = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+))(?::(\d{1,5}))?$/.exec(item);
    if (!h) return undefined;
    const port = h[3] === undefined ? 5432 : Number(h[3]);
    if (port < 1 || port > 65535) return undefined;
    hosts.push({ host: h[1] ?? h[2]!, port });
  }
  try {
    // The rest (credentials' escapes, path, parameters) is checked by the standard parser on the first host.
    const one = new URL(`${scheme}${auth}${hostList.split(',')[0] ?? ''}${path}${query}`);
    return {
      hosts,
      database: decodeURIComponent(one.pathname.slice(1)),
      user: decodeURIComponent(one.username),
      params: one.searchParams,
      withDatabase: (name) => `${scheme}${auth}${hostList}/${encodeURIComponent(name)}${query}`,
    };
  } catch {
    return undefined;
  }
}
