import type { AddressInfo } from 'node:net';
import { BusSubscriber } from '@vmo/shared/bus';
import { redisTargetOf } from '@vmo/shared/config';
import { createLogger, type Logger } from '@vmo/shared/logger';
import { openControlPlane } from '@vmo/shared/control-plane';
import { LogSink } from '@vmo/shared/logsink';
import { AuditWriter } from '@vmo/shared/audit';
import { registerRunRollUp } from '@vmo/shared/runs';
import { markChangesOnTransition } from '@vmo/shared/jobs';
import { createApp } from './app.ts';
import { ensureAdminToken } from './auth/admin-token.ts';
import { TokenStore } from './auth/token-store.ts';
import { ProxyIdentity } from './auth/proxy-identity.ts';
import { TrustedProxies } from './auth/trusted-proxies.ts';
import type { ApiConfig } from './env.ts';
import { AgentGateway } from './gateway/agent-gateway.ts';
import { OriginPolicy } from './http/origin.ts';
import { RateLimiter } from './http/rate-limit.ts';
import { FailedAuthLimiter } from './http/rate-limit-auth.ts';
import { countSubmission, limitSubmissions } from './http/rate-limit-submissions.ts';
import { createHttpServer } from './server.ts';
import { collectApiMetrics } from './routes/metrics.ts';

export interface ApiHandle {
  url: string;
  port: number;
  /** Set only on the very first start when no VMO_ADMIN_TOKEN was given: print it once. */
  generatedAdminToken: string | undefined;
  close(): Promise<void>;
}

export async function startApi(config: ApiConfig, log: Logger = createLogger('api', config.VMO_LOG_LEVEL)): Promise<ApiHandle> {
  const cp = await openControlPlane(config, log);
  const generatedAdminToken = await ensureAdminToken(cp.database, config.VMO_ADMIN_TOKEN);
  // The one subscriber connection of this API (BUS.md §8): job streams and agent sessions share it.
  const bus = BusSubscriber.open(redisTargetOf(config), cp.keys, log);
  const sink = new LogSink({ sql: cp.database.sql, bus: cp, log });
  const trusted = new TrustedProxies(config.VMO_TRUSTED_PROXIES);
  const proxy = trusted.enabled
    ? new ProxyIdentity(cp, { trusted, userHeader: config.VMO_USER_HEADER, emailHeader: config.VMO_EMAIL_HEADER, defaultRole: config.VMO_PROXY_DEFAULT_ROLE })
    : undefined;
  if (proxy) log.info({ trustedProxies: config.VMO_TRUSTED_PROXIES.map((c) => `${c.address}/${c.prefix}`), userHeader: config.VMO_USER_HEADER }, 'auth proxy header trusted');
  const tokens = new TokenStore(cp.database, proxy, { lookupDeadlineMs: config.VMO_TOKEN_LOOKUP_DEADLINE_MS });
  const gateway = new AgentGateway({ cp, sink, bus, log, recordShellInput: config.VMO_SHELL_RECORD_INPUT });
  const stopMetrics = collectApiMetrics(cp, gateway);
  // The API wins transitions of run children too (an agent's exit through the gateway, a cancel
  // of a queued child): each rolls its run up, releasing the next children without waiting for
  // the worker's sweep.
  const stopRunRollUp = registerRunRollUp(cp);
  // Dashboards hear of the transitions this node writes (BUS.md §10).
  const stopMarkingChanges = markChangesOnTransition(cp);
  // One per process: REST requests and refused upgrades share its statements.
  const audit = new AuditWriter({ sql: cp.database.sql, log });
  const origins = new OriginPolicy(config.VMO_ALLOWED_ORIGINS);
  const limiter = new RateLimiter(cp.redis, log);
  const authFailures = config.VMO_AUTH_FAIL_RATE ? new FailedAuthLimiter(limiter, cp.keys, config.VMO_AUTH_FAIL_RATE) : undefined;
  const app = createApp({
    cp,
    tokens,
    log,
    maxRunTargets: config.VMO_MAX_RUN_TARGETS,
    audit,
    origins,
    authFailures,
    metricsToken: config.VMO_METRICS_TOKEN,
    dashboardDir: config.VMO_DASHBOARD_DIR,
    bus,
    ...(config.VMO_SUBMIT_RATE ? { limitSubmissions: limitSubmissions(limiter, cp.keys, config.VMO_SUBMIT_RATE) } : {}),
  });
  const { server, closeSubscribers } = createHttpServer({
    app,
    cp,
    tokens,
    gateway,
    bus,
    log,
    maxSubscriberBufferBytes: config.VMO_SUBSCRIBER_BUFFER_BYTES,
    shellGraceMs: config.VMO_SHELL_GRACE_MS,
    recordShellInput: config.VMO_SHELL_RECORD_INPUT,
    shellMaxSessionsPerTarget: config.VMO_SHELL_MAX_SESSIONS_PER_TARGET,
    ssh: config,
    // A new shell session spawns a PTY on the agent: counted with POST /v1/jobs (review finding 5).
    countSubmission: config.VMO_SUBMIT_RATE ? countSubmission(limiter, cp.keys, config.VMO_SUBMIT_RATE) : undefined,
    deadlines: {
      headersMs: config.VMO_HEADERS_TIMEOUT_MS,
      requestMs: config.VMO_REQUEST_TIMEOUT_MS,
      keepAliveMs: config.VMO_KEEP_ALIVE_TIMEOUT_MS,
      idleMs: config.VMO_IDLE_TIMEOUT_MS,
      upgradeMs: config.VMO_UPGRADE_TIMEOUT_MS,
    },
    maxUnauthenticatedConnections: config.VMO_MAX_UNAUTH_CONNECTIONS_PER_IP,
    audit,
    origins,
    authFailures,
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.VMO_PORT, config.VMO_HOST, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.VMO_HOST === '0.0.0.0' || config.VMO_HOST === '::' ? '127.0.0.1' : config.VMO_HOST;
  const url = `http://${host}:${port}`;
  log.info({ url }, 'api listening');

  return {
    url,
    port,
    generatedAdminToken,
    async close() {
      server.close();
      gateway.close();
      const hostShellsClosed = closeSubscribers();
      server.closeAllConnections?.();
      await hostShellsClosed; // their rows ended and last bytes stored while the database is still open
      await sink.close();
      await audit.close();
      stopRunRollUp();
      stopMarkingChanges();
      stopMetrics();
      bus.close();
      await cp.close();
      log.info('api stopped');
    },
  };
}
