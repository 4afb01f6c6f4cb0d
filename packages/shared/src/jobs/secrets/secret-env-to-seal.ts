import type { ControlPlane } from '../../control-plane/control-plane.ts';
import { AppError, badRequest } from '../../errors/app-error.ts';
import type { SecretBox } from '../../secrets/secret-box.ts';

/**
 * A job's or a run's `secretEnv` and the box to seal it with, or undefined when it has none.
 * Refused before anything is read or written: a name also in `env` (400, naming the field), or no
 * VMO_SECRET_KEY (422 `secrets_disabled`). Neither message quotes a value.
 */
export function secretEnvToSeal(
  cp: ControlPlane,
  input: { env: Record<string, string>; secretEnv?: Record<string, string> | undefined },
): { env: Record<string, string>; box: SecretBox } | undefined {
  const env = input.secretEnv;
  if (!env || Object.keys(env).length === 0) return undefined;
  const twice = Object.keys(env).find((name) => Object.hasOwn(input.env, name));
  if (twice !== undefined) {
    throw badRequest('validation_failed', `secretEnv.${twice}: is also in env; give each variable once (secret or not)`, { field: `secretEnv.${twice}` });
  }
  if (!cp.secretBox) {
    throw new AppError(422, 'secrets_disabled', 'secretEnv: secrets are not enabled on this control plane; set VMO_SECRET_KEY (or VMO_SECRET_KEY_FILE) on the API and the workers, or submit without secretEnv');
  }
  return { env, box: cp.secretBox };
}
