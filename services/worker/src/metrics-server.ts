import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@vmo/shared/logger';
import { METRICS_PATH } from '@vmo/shared/api';
import { presentsMetricsToken, renderMetrics } from '@vmo/shared/metrics';

export interface MetricsServerOptions {
  port: number;
  /** VMO_METRICS_HOST: loopback by default, so only this machine (a local Prometheus or agent) can scrape. */
  host: string;
  /** VMO_METRICS_TOKEN: when set, a scrape must present it as a bearer token. */
  token: string | undefined;
  log: Logger;
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

const json = (code: string, message: string) => JSON.stringify({ error: { code, message } });

/**
 * A worker's own `GET /metrics` (VMO_METRICS_PORT): the worker has no HTTP API, so a small
 * node:http server. Protected by the bind address and, when set, the metrics token; nothing else
 * is served. Errors have the API's JSON shape.
 */
export async function startMetricsServer({ port, host, token, log }: MetricsServerOptions): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== METRICS_PATH) {
      res.writeHead(404, { 'content-type': 'application/json' }).end(json('not_found', `no route for ${req.method} ${path}; metrics are at ${METRICS_PATH}`));
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(404, { 'content-type': 'application/json' }).end(json('not_found', `no route for ${req.method} ${path}`));
      return;
    }
    if (token !== undefined && !presentsMetricsToken(req.headers.authorization, token)) {
      // Logged without the header: it may be a real credential with a typo.
      log.warn({ path, peer: req.socket.remoteAddress }, 'metrics scrape refused: no or wrong metrics token');
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' }).end(json('unauthorized', 'missing or wrong Authorization header; expected "Bearer <VMO_METRICS_TOKEN>"'));
      return;
    }
    renderMetrics().then(
      (page) => res.writeHead(200, { 'content-type': page.contentType }).end(req.method === 'HEAD' ? undefined : page.body),
      (err: Error) => {
        log.error({ err }, 'metrics scrape failed');
        res.writeHead(500, { 'content-type': 'application/json' }).end(json('internal', 'internal error; see the server log'));
      },
    );
  });
  // A scraper that connects and dawdles holds nothing for long.
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}${METRICS_PATH}`;
  log.info({ url, protectedBy: token ? 'token and bind address' : 'bind address' }, 'worker metrics listening');
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
