import { randomBytes } from 'node:crypto';
import { PROTOCOL_VERSION, type ServerRun } from '@vmo/shared/protocol';

export const newJobId = (): string => {
  const alphabet = '0123456789abcdefghijklmnopqrstuvwxyz';
  return 'job_' + [...randomBytes(20)].map((b) => alphabet[b % 36]).join('');
};

export const runMessage = (jobId: string, command: string, extra: Partial<ServerRun> = {}): ServerRun => ({
  type: 'run',
  v: PROTOCOL_VERSION,
  jobId,
  attempt: 1,
  command,
  env: {},
  cwd: null,
  maxOutputBytes: 64 * 1024 * 1024,
  tailBytes: 1024 * 1024,
  ...extra,
});
