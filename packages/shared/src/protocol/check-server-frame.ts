import type { ServerToAgent } from './agent-messages.ts';

/**
 * The agent's check of the server's JSON frames (PROTOCOL.md §1–§6, SHELL.md §S5) written by
 * hand: what `ServerToAgent.safeParse` decides, without zod. The bundled agent carries no zod
 * (issue 16: 81 % of a 906 KB agent was zod), and each frame costs a few property reads.
 *
 * LOUD: the zod schemas (agent-messages.ts, shell-messages.ts) stay the reference, and the API
 * parses with them. check-server-frame.test.ts runs a corpus of valid and invalid frames through
 * both: this must accept exactly what they accept, with the same output (unknown keys dropped,
 * `cols`/`rows` coerced to numbers), and refuse exactly what they refuse. A change to a server
 * frame's schema changes this file in the same commit.
 *
 * Nothing here imports zod, not even indirectly: the agent bundle would carry all of it again.
 */
export type ServerFrameCheck = { ok: true; frame: ServerToAgent } | { ok: false; path: string; message: string };

type Json = Record<string, unknown>;

/** Thrown inside a check; turned into the answer at the top. Never leaves this file. */
class Refused {
  constructor(
    readonly path: string,
    readonly message: string,
  ) {}
}

const isObject = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x);
const JOB_ID = /^job_[0-9a-z]{20}$/;
const SESSION_ID = /^shs_[0-9a-z]{20}$/;
const ATTACH_ID = /^att_[0-9a-z]{20}$/;
/** zod's z.base64() (zod/v4/core regexes.ts), copied: the corpus test holds the two together. */
const BASE64 = /^$|^(?:[0-9a-zA-Z+/]{4})*(?:(?:[0-9a-zA-Z+/]{2}==)|(?:[0-9a-zA-Z+/]{3}=))?$/;

function int(o: Json, key: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const x = o[key];
  // z.number().int(): a safe integer (NaN and ±Infinity never come out of JSON.parse anyway).
  if (typeof x !== 'number' || !Number.isSafeInteger(x)) throw new Refused(key, 'expected an integer');
  if (x < min || x > max) throw new Refused(key, `must be between ${min} and ${max}`);
  return x;
}

/** z.coerce.number().int().min(1).max(1000): Number() of whatever came, then the same checks. */
function dimension(o: Json, key: string): number {
  const x = Number(o[key]);
  if (!Number.isSafeInteger(x)) throw new Refused(key, 'expected an integer');
  if (x < 1 || x > 1000) throw new Refused(key, 'must be between 1 and 1000');
  return x;
}

function str(o: Json, key: string, min = 0, max = Infinity): string {
  const x = o[key];
  if (typeof x !== 'string') throw new Refused(key, 'expected a string');
  if (x.length < min || x.length > max) throw new Refused(key, `must be ${min}-${max} characters`);
  return x;
}

function matching(o: Json, key: string, pattern: RegExp): string {
  const x = str(o, key);
  if (!pattern.test(x)) throw new Refused(key, `must match ${pattern.source}`);
  return x;
}

function nullableStr(o: Json, key: string, min: number, max: number): string | null {
  return o[key] === null ? null : str(o, key, min, max);
}

function bool(o: Json, key: string): boolean {
  const x = o[key];
  if (typeof x !== 'boolean') throw new Refused(key, 'expected a boolean');
  return x;
}

/** z.record(z.string(), z.string()): own keys, every value a string. */
function stringRecord(o: Json, key: string): Record<string, string> {
  const x = o[key];
  if (!isObject(x)) throw new Refused(key, 'expected an object');
  const out: Record<string, string> = {};
  for (const k of Object.keys(x)) {
    const value = x[k];
    if (typeof value !== 'string') throw new Refused(`${key}.${k}`, 'expected a string');
    out[k] = value;
  }
  return out;
}

function list<T>(o: Json, key: string, item: (x: unknown, path: string) => T): T[] {
  const x = o[key];
  if (!Array.isArray(x)) throw new Refused(key, 'expected an array');
  return x.map((e, i) => item(e, `${key}.${i}`));
}

function jobIdItem(x: unknown, path: string): string {
  if (typeof x !== 'string' || !JOB_ID.test(x)) throw new Refused(path, 'must be a job id');
  return x;
}

function resumeItem(x: unknown, path: string): { jobId: string; nextSeq: number } {
  if (!isObject(x)) throw new Refused(path, 'expected an object');
  try {
    return { jobId: matching(x, 'jobId', JOB_ID), nextSeq: int(x, 'nextSeq', 0, 2 ** 31 - 1) };
  } catch (err) {
    throw err instanceof Refused ? new Refused(`${path}.${err.path}`, err.message) : err;
  }
}

const CHECKS: Record<string, (o: Json) => ServerToAgent> = {
  welcome: (o) => ({
    type: 'welcome',
    v: 1,
    agentId: str(o, 'agentId'),
    heartbeatMs: int(o, 'heartbeatMs', 1),
    resume: list(o, 'resume', resumeItem),
    abandon: list(o, 'abandon', jobIdItem),
  }),
  run: (o) => ({
    type: 'run',
    v: 1,
    jobId: matching(o, 'jobId', JOB_ID),
    attempt: int(o, 'attempt', 0),
    command: str(o, 'command', 1, 64 * 1024),
    env: stringRecord(o, 'env'),
    cwd: nullableStr(o, 'cwd', 0, Infinity),
    maxOutputBytes: int(o, 'maxOutputBytes', 1),
    tailBytes: int(o, 'tailBytes', 0),
    ...(o.secretEnv !== undefined && { secretEnv: stringRecord(o, 'secretEnv') }),
  }),
  ack: (o) => ({ type: 'ack', v: 1, jobId: matching(o, 'jobId', JOB_ID), seq: int(o, 'seq', 0, 2 ** 31 - 1) }),
  exit_ack: (o) => ({ type: 'exit_ack', v: 1, jobId: matching(o, 'jobId', JOB_ID) }),
  cancel: (o) => ({ type: 'cancel', v: 1, jobId: matching(o, 'jobId', JOB_ID), graceMs: int(o, 'graceMs', 0, 3_600_000) }),
  abandon: (o) => ({ type: 'abandon', v: 1, jobId: matching(o, 'jobId', JOB_ID) }),
  shell_open: (o) => ({
    type: 'shell_open',
    v: 1,
    session: matching(o, 'session', SESSION_ID),
    attach: matching(o, 'attach', ATTACH_ID),
    create: bool(o, 'create'),
    offset: int(o, 'offset', 0, 2 ** 48 - 1),
    cols: dimension(o, 'cols'),
    rows: dimension(o, 'rows'),
    command: nullableStr(o, 'command', 1, 4096),
    graceMs: int(o, 'graceMs', 0, 24 * 3_600_000),
    ringBytes: int(o, 'ringBytes', 64 * 1024, 64 * 1024 * 1024),
  }),
  shell_input: (o) => {
    const session = matching(o, 'session', SESSION_ID);
    const data = str(o, 'data', 0, 96 * 1024);
    if (!BASE64.test(data)) throw new Refused('data', 'must be base64');
    return { type: 'shell_input', v: 1, session, data };
  },
  shell_resize: (o) => ({ type: 'shell_resize', v: 1, session: matching(o, 'session', SESSION_ID), cols: dimension(o, 'cols'), rows: dimension(o, 'rows') }),
  shell_ack: (o) => ({ type: 'shell_ack', v: 1, session: matching(o, 'session', SESSION_ID), attach: matching(o, 'attach', ATTACH_ID), offset: int(o, 'offset', 0, 2 ** 48 - 1) }),
  shell_detach: (o) => ({ type: 'shell_detach', v: 1, session: matching(o, 'session', SESSION_ID), attach: matching(o, 'attach', ATTACH_ID) }),
};

/** A parsed JSON frame from the server: the frame (as the schema would output it), or where and why it is refused. */
export function checkServerFrame(json: unknown): ServerFrameCheck {
  if (!isObject(json)) return { ok: false, path: '', message: 'expected an object' };
  const check = typeof json.type === 'string' && Object.hasOwn(CHECKS, json.type) ? CHECKS[json.type] : undefined;
  if (!check) return { ok: false, path: 'type', message: 'unknown frame type' };
  if (json.v !== 1) return { ok: false, path: 'v', message: 'expected protocol version 1' };
  try {
    return { ok: true, frame: check(json) };
  } catch (err) {
    if (err instanceof Refused) return { ok: false, path: err.path, message: err.message };
    throw err;
  }
}
