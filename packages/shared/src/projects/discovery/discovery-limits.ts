/** Default bound on a discovery (GET …/targets waits for it); `?timeoutMs=` changes it. Pure: the contracts load it. */
export const DEFAULT_DISCOVERY_TIMEOUT_MS = 30_000;
export const MAX_DISCOVERY_TIMEOUT_MS = 300_000;
