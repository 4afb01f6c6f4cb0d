import type { Logger } from 'pino';
import { checkRedis } from './check-redis.ts';
import { redisTargetOf, type RedisSettings } from './redis-mode.ts';
import { explainStartFailure } from './start-failure.ts';

export { checkRedis } from './check-redis.ts';
export { explainStartFailure, StartFailure, EX_CONFIG, EX_UNAVAILABLE } from './start-failure.ts';

export interface StartContext {
  /** `api`, `worker`, `vmo` (the all-in-one): the line's prefix. */
  service: string;
  /** The parsed configuration: the failure names its variables (VMO_DATABASE_URL, VMO_PORT, …). */
  settings: Readonly<Record<string, unknown>>;
  log: Logger;
  /** Ask Redis first (default: when the settings are a control-plane process's, i.e. have VMO_REDIS_PREFIX). */
  checkRedis?: boolean;
}

/**
 * Run a start; if it cannot work, say why in ONE line on stderr naming the setting to change
 * (`vmo api: cannot start: Postgres refused the connection at 127.0.0.1:5432 (is it running?):
 * start it, or set VMO_DATABASE_URL`) and exit 69 or 78, never with a stack trace. A failure it
 * does not recognise is a bug: logged as `fatal` with its stack, exit 1.
 */
export async function startOrExit<T>(ctx: StartContext, start: () => Promise<T>): Promise<T> {
  try {
    if (ctx.checkRedis !== false && typeof ctx.settings.VMO_REDIS_PREFIX === 'string') await checkRedis(redisTargetOf(ctx.settings as RedisSettings));
    return await start();
  } catch (err) {
    const failure = explainStartFailure(err, ctx.settings);
    if (failure) {
      process.stderr.write(`${ctx.service === 'vmo' ? 'vmo' : `vmo ${ctx.service}`}: cannot start: ${failure.message}\n`);
      process.exit(failure.exitCode);
    }
    ctx.log.fatal({ err }, 'cannot start');
    process.exit(1);
  }
}

/**
 * `--version` anywhere in the arguments: print `<name> <version>` on stdout and exit 0, before
 * any configuration is read (it works on a machine with nothing set up).
 */
export function printVersionIfAsked(name: string, version: string, argv: readonly string[] = process.argv.slice(2)): void {
  if (!argv.includes('--version')) return;
  process.stdout.write(`${name} ${version}\n`);
  process.exit(0);
}
