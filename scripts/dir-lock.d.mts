// Types of dir-lock.mjs for the TypeScript that imports it (packages/testkit/src/built-services.ts, packages/dashboard/ensure-built.ts).
export declare function withDirLock<T>(lock: string, fn: () => T, opts?: { staleMs?: number; pollMs?: number }): T;
