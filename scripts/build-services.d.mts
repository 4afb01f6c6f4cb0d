// Types of build-services.mjs for the TypeScript that imports it (apps/vmo/test/container-files.test.ts).
export type ServiceName = 'app' | 'api' | 'worker' | 'agent';
export declare const SERVICES: Record<ServiceName, { entry: string; outfile: string; esbuildOf: string }>;
export declare function isStale(name: ServiceName): boolean;
export declare function buildService(name: ServiceName): Promise<{ outfile: string; bytes: number }>;
