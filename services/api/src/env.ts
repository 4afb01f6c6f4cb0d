import { DASHBOARD_DIR } from '@vmo/dashboard';
import { z } from 'zod';
import { adminTokenVar, checkRedisMode, checkTimingRelations, commonEnv, intVar } from '@vmo/shared/config';
import { USER_ROLES } from '@vmo/shared/domain';
import { DEFAULT_MAX_RUN_TARGETS } from '@vmo/shared/runs';
import { metricsTokenVar } from '@vmo/shared/metrics';
import { sshEnv } from '@vmo/ssh';
import { DEFAULT_TOKEN_LOOKUP_DEADLINE_MS } from './auth/token-store.ts';
import { headerNameVar, trustedProxiesVar } from './auth/trusted-proxies.ts';
import { allowedOriginsVar } from './http/origin.ts';
import { rateVar } from './http/rate-limit.ts';

export const apiEnv = z.object({
  ...commonEnv,
  VMO_PORT: intVar(3121, 0, 65535),
  VMO_HOST: z.string().min(1).default('0.0.0.0'),
  /** If set (or VMO_ADMIN_TOKEN_FILE), this token is an admin token (stored hashed); otherwise one is generated at first start. */
  VMO_ADMIN_TOKEN: adminTokenVar,
  /**
   * A subscriber whose unsent backlog passes this while the stream is live is disconnected (close
   * 4008). At least 1 MiB: one live message (a 256 KiB output batch as base64 JSON, ~342 KiB) must
   * fit with room to spare, or a subscriber keeping up would be cut by a single message.
   */
  VMO_SUBSCRIBER_BUFFER_BYTES: intVar(8 * 1024 * 1024, 1024 * 1024, 1024 * 1024 * 1024),
  // Deadlines for clients that connect and then dawdle (slowloris): see http/connection-deadlines.ts.
  // None of them applies to a WebSocket once it is authenticated and open (agents, subscribers).
  /** The request line and headers (of a request or a WebSocket upgrade) must arrive within this. */
  VMO_HEADERS_TIMEOUT_MS: intVar(10_000, 100, 300_000),
  /** The whole request, body included, must arrive within this. At least VMO_HEADERS_TIMEOUT_MS. */
  VMO_REQUEST_TIMEOUT_MS: intVar(60_000, 100, 3_600_000),
  /** A kept-alive connection with no request in flight is closed after this. */
  VMO_KEEP_ALIVE_TIMEOUT_MS: intVar(5_000, 100, 600_000),
  /** A connection on which nothing is read or written for this long is closed (a client that stopped reading). */
  VMO_IDLE_TIMEOUT_MS: intVar(60_000, 100, 3_600_000),
  /** A WebSocket upgrade must be authenticated and answered within this, or the socket is destroyed. */
  VMO_UPGRADE_TIMEOUT_MS: intVar(10_000, 100, 300_000),
  /**
   * A token lookup (every authenticated request and upgrade needs one) not answered by Postgres
   * within this (a lock on api_tokens, a black-holed connection) is answered 503 `unavailable`
   * with Retry-After instead of hanging the request (auth/token-store.ts, batch/group-commit.ts).
   * 3 s: a healthy lookup is an index probe of about a millisecond, and submit p99 at 64 clients
   * was 92 ms (README, Performance), so a false 503 needs a stall 30 times that. A request waits at
   * most two of it (one for a lookup slot, one for its own lookup): 6 s, inside the
   * VMO_UPGRADE_TIMEOUT_MS default (10 s), so an upgrade gets its 503 before its socket is cut.
   */
  VMO_TOKEN_LOOKUP_DEADLINE_MS: intVar(DEFAULT_TOKEN_LOOKUP_DEADLINE_MS, 50, 120_000),
  /**
   * Connections from one address (an IPv6 /64) that have not yet made an authenticated request
   * or upgrade; more are refused at once with 429. 0 turns the limit off (behind a proxy that
   * connects from one address for everyone, raise it or turn it off and limit at the proxy).
   */
  VMO_MAX_UNAUTH_CONNECTIONS_PER_IP: intVar(64, 0, 1_000_000),
  /**
   * A fleet run may have at most this many targets (children); more is 422 `too_many_targets`.
   * The run and every child are inserted in one transaction before the 201, so this bounds that
   * transaction (and a selector that matches the whole fleet by mistake).
   */
  VMO_MAX_RUN_TARGETS: intVar(DEFAULT_MAX_RUN_TARGETS, 1, 100_000),
  /**
   * The auth proxies in front of the API (CIDRs or addresses, comma-separated: `10.0.0.0/8,
   * fd00::/8`). A request whose socket peer is one of them and that carries VMO_USER_HEADER is
   * that user (created on first sight with VMO_PROXY_DEFAULT_ROLE); the header from any other
   * address is ignored. Empty (the default): off. Only the peer address counts, never
   * X-Forwarded-For. The proxy must replace any such header a client sends.
   */
  VMO_TRUSTED_PROXIES: trustedProxiesVar,
  /** The header a trusted proxy names the user in (oauth2-proxy: set it from X-Forwarded-User). */
  VMO_USER_HEADER: headerNameVar('X-VM-User'),
  /** The header a trusted proxy gives the user's email in (optional; kept on the user). */
  VMO_EMAIL_HEADER: headerNameVar('X-VM-Email'),
  /** The role of a user the proxy names for the first time. */
  VMO_PROXY_DEFAULT_ROLE: z.enum(USER_ROLES, { error: `must be one of ${USER_ROLES.join(', ')}` }).default('viewer'),
  /**
   * Origins whose web pages may open job and run streams and call the REST API from a browser,
   * comma-separated (`https://vmo.example.com`); the API's own origin (its Host) always may.
   * Requests without an Origin (CLI, curl, agents) are not concerned. See http/origin.ts.
   */
  VMO_ALLOWED_ORIGINS: allowedOriginsVar,
  /**
   * Submissions (POST /v1/jobs, POST /v1/runs) per user, or per token for the bootstrap admin:
   * `<count>/<window>` (`600/1m`), or `off`. Off by default: one client submitting thousands of
   * jobs a second is a normal use (the bench does), and each check costs a Redis round trip.
   */
  VMO_SUBMIT_RATE: rateVar('off'),
  /**
   * Failed authentications (a presented token refused) per source address and per credential
   * presented, then 429 for tokens from that address, and for that credential from anywhere,
   * until the window ends: `<count>/<window>`, or `off`. Behind a proxy listed in
   * VMO_TRUSTED_PROXIES each client is counted on the address it forwards (X-Forwarded-For);
   * behind one not listed, every client shares the proxy's address.
   */
  VMO_AUTH_FAIL_RATE: rateVar('30/1m'),
  /** A bearer token for GET /metrics (a Prometheus scraper's); admins may scrape without it. Secret (also VMO_METRICS_TOKEN_FILE). */
  VMO_METRICS_TOKEN: metricsTokenVar,
  /** The web dashboard's built files, served at / (default: packages/dashboard/dist, which `npm start` builds). */
  VMO_DASHBOARD_DIR: z.string().min(1).default(DASHBOARD_DIR),
  /** How long a detached shell session keeps its PTY before it is killed (protocol/SHELL.md §S4), ms. */
  VMO_SHELL_GRACE_MS: intVar(300_000, 100, 86_400_000),
  /** Shell sessions alive at once on one agent or host (attached, or detached within their grace); more is 429. 0 = no limit. */
  VMO_SHELL_MAX_SESSIONS_PER_TARGET: intVar(10, 0, 100_000),
  /**
   * `true`: shell sessions also record what clients typed (SHELL.md §S7, stream 0), passwords typed
   * at a prompt included. Off by default: input is never stored.
   */
  VMO_SHELL_RECORD_INPUT: z.enum(['true', 'false'], { message: 'must be true or false' }).default('false').transform((v) => v === 'true'),
  // SSH hosts' shells held by this node (shells/host-shells.ts) reach the hosts with the worker's
  // settings: VMO_SSH_KNOWN_HOSTS, _KEY_PASSPHRASE, _IDLE_MS, _MAX_CHANNELS, _CONNECT_TIMEOUT_MS,
  // _KEY_DIRS, _ALLOWED_TARGETS (@vmo/ssh ssh-env.ts). Give the API the same values as the workers.
  ...sshEnv,
}).refine((c) => c.VMO_REQUEST_TIMEOUT_MS >= c.VMO_HEADERS_TIMEOUT_MS, {
  path: ['VMO_REQUEST_TIMEOUT_MS'],
  message: 'must be at least VMO_HEADERS_TIMEOUT_MS (the headers are part of the request)',
}).superRefine(checkTimingRelations).superRefine(checkRedisMode);
export type ApiConfig = z.infer<typeof apiEnv>;

export const MAX_BODY_BYTES = 1024 * 1024;
