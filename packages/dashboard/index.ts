import { fileURLToPath } from 'node:url';

/**
 * Where the built dashboard is (`npm run build -w @vmo/dashboard`, or ensure-built.ts): the API
 * serves this folder at /. The API depends on this path only, never on the pages' code.
 */
export const DASHBOARD_DIR = fileURLToPath(new URL('./dist/', import.meta.url));
