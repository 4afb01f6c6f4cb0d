// Prefer the subpath exports (`@vmo/shared/db`, `/protocol`, …) so a service imports only what it uses.
export * from './errors/index.ts';
export * from './domain/ids.ts';
