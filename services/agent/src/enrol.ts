import type { EnrolledAgent } from '@vmo/shared/api';
import { AGENT_NAME_PATTERN, AGENT_NAME_RULE } from '@vmo/shared/domain';
import { Backoff } from './backoff.ts';
import type { Logger } from './logger.ts';

/** The server refused the enrolment for good (the token, the name, the request): retrying would not help. */
export class EnrolmentRefused extends Error {
  override name = 'EnrolmentRefused';
}

/** http(s)://host/base → http(s)://host/base/v1/agent/enrol */
export function enrolUrl(server: string): string {
  const url = new URL(server);
  url.protocol = url.protocol === 'wss:' ? 'https:' : url.protocol === 'ws:' ? 'http:' : url.protocol;
  url.pathname = url.pathname.replace(/\/+$/, '') + '/v1/agent/enrol';
  return url.toString();
}

/** The name is checked here, before anything is sent: a refused name would otherwise cost a round trip, not a use. */
export function enrolmentName(name: string, fromFlag: boolean): string {
  if (AGENT_NAME_PATTERN.test(name)) return name;
  const why = AGENT_NAME_RULE;
  throw new EnrolmentRefused(fromFlag ? `--name: ${why}` : `this machine's hostname ${JSON.stringify(name)} is not a valid agent name (${why}): give one with --name`);
}

const REQUEST_TIMEOUT_MS = 15_000;

export interface EnrolOptions {
  servers: string[];
  enrolToken: string;
  name: string;
  /** This machine's enrolment nonce (state-dir.ts enrolmentNonce), the same on every attempt. */
  nonce: string;
  userAgent: string;
  log: Logger;
  /** Aborted when the agent is asked to stop while it is still enrolling. */
  signal: AbortSignal;
  backoff?: Backoff;
}

/**
 * PROTOCOL.md §8: exchange the enrolment token for this agent's own (POST /v1/agent/enrol). A
 * server that cannot be reached, or answers 429 or 5xx, is retried with backoff across the
 * --server URLs: a machine may boot before its control plane. Any other refusal (the token is
 * unknown, expired, used up or revoked; the name is taken or invalid) throws EnrolmentRefused.
 * Every attempt sends the same nonce, so one whose answer was lost after the server enrolled us
 * is answered again (200: the same agent, a new token) rather than refused 409 on our own name.
 */
export async function enrol(opts: EnrolOptions): Promise<EnrolledAgent> {
  const backoff = opts.backoff ?? new Backoff();
  // Set once a request may have reached the server: a 409 for our own name may then be an
  // earlier attempt that enrolled us, if the server could not answer it again (see the hint).
  let maybeSent = false;
  for (let attempt = 0; ; attempt++) {
    opts.signal.throwIfAborted();
    const server = opts.servers[attempt % opts.servers.length]!;
    const url = enrolUrl(server);
    let res: Response;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${opts.enrolToken}`, 'content-type': 'application/json', 'user-agent': opts.userAgent },
        body: JSON.stringify({ name: opts.name, nonce: opts.nonce }),
        signal: AbortSignal.any([opts.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
        redirect: 'error',
      });
    } catch (err) {
      opts.signal.throwIfAborted();
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
      if (cause !== 'ECONNREFUSED' && cause !== 'ENOTFOUND' && cause !== 'EAI_AGAIN') maybeSent = true;
      await pause(opts, backoff, `could not reach ${url} (${cause})`);
      continue;
    }
    const text = await res.text().catch(() => '');
    // 201: enrolled; 200: enrolled by an earlier attempt whose answer was lost, answered again with a new token.
    if (res.status === 201 || res.status === 200) {
      const enrolled = enrolledAgentOf(safeJson(text));
      if (typeof enrolled === 'string') throw new EnrolmentRefused(`the server's answer to the enrolment is not an enrolled agent (${enrolled})`);
      return enrolled;
    }
    maybeSent = true;
    if (res.status === 429 || res.status >= 500) {
      await pause(opts, backoff, `${url} answered HTTP ${res.status}`);
      continue;
    }
    const message = (safeJson(text) as { error?: { message?: unknown } } | undefined)?.error?.message;
    const said = typeof message === 'string' ? message : `HTTP ${res.status}`;
    if (res.status === 404) throw new EnrolmentRefused(`${url} answered 404: is the control plane older than agent enrolment? (${said})`);
    const hint = res.status === 409 && maybeSent && attempt > 0 ? ' (if an earlier attempt enrolled this machine, the server could not answer it again: that agent has connected since or the enrolment token was revoked; revoke that agent and start again)' : '';
    throw new EnrolmentRefused(`the server refused the enrolment (HTTP ${res.status}): ${said}${hint}`);
  }
}

async function pause(opts: EnrolOptions, backoff: Backoff, why: string): Promise<void> {
  const delayMs = backoff.nextDelayMs();
  opts.log.warn('enrolment failed; retrying', { why, delayMs });
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, delayMs);
    opts.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The EnrolledAgent schema's check (@vmo/shared/api), by hand: the bundled agent carries no zod.
 * The answer with its known fields only, or what is wrong with it.
 */
export function enrolledAgentOf(json: unknown): EnrolledAgent | string {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) return 'not a JSON object';
  const o = json as Record<string, unknown>;
  for (const key of ['agentId', 'name', 'token'] as const) if (typeof o[key] !== 'string') return `${key}: expected a string`;
  const labels = o.labels;
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels)) return 'labels: expected an object';
  for (const [k, v] of Object.entries(labels)) if (typeof v !== 'string') return `labels.${k}: expected a string`;
  return { agentId: o.agentId as string, name: o.name as string, labels: { ...(labels as Record<string, string>) }, token: o.token as string };
}
