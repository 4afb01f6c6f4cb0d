import { z } from 'zod';
import { secretVar } from '../config/secret-var.ts';

/**
 * VMO_METRICS_TOKEN: a scraper presents it as `Authorization: Bearer <token>` on /metrics (API and
 * worker). Secret: also read from VMO_METRICS_TOKEN_FILE, never logged. At least 16 characters.
 */
export const metricsTokenVar = secretVar(z.string().min(16, 'must be at least 16 characters').optional());

/** VMO_METRICS_PORT (worker): serve /metrics on this port; unset, no metrics server. */
export const metricsPortVar = z.preprocess((v) => (v === '' ? undefined : v), z.coerce.number({ error: 'must be a port number' }).int('must be a port number').min(0, 'must be a port number (0-65535)').max(65535, 'must be a port number (0-65535)').optional());

/** VMO_METRICS_HOST (worker): the address its metrics server binds to; loopback unless opened on purpose. */
export const metricsHostVar = z.string().min(1, 'must be an address').default('127.0.0.1');
