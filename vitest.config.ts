import { defineConfig } from 'vitest/config';

const exclude = ['**/node_modules/**', '**/dist/**'];

// Two cores here and on CI: two files at a time. End-to-end files start real processes, so
// their timeouts are generous deadlines, never performance assertions.
// What measures must not share the machine: the bench smoke test (project `bench`) and the tests
// named *.measured.test.ts (project `measured`: a page's click latency under load) run after the
// unit and integration projects, one file at a time (`npm test`).
export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 90_000,
    globalSetup: ['./packages/testkit/src/global-setup.ts'],
    projects: [
      { extends: true, test: { name: 'unit', include: ['packages/*/src/**/*.test.ts', 'services/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts'], exclude } },
      { extends: true, test: { name: 'integration', include: ['packages/*/test/**/*.test.ts', 'services/*/test/**/*.test.ts', 'apps/*/test/**/*.test.ts'], exclude: [...exclude, '**/*.measured.test.ts'] } },
      { extends: true, test: { name: 'measured', include: ['packages/*/test/**/*.measured.test.ts', 'services/*/test/**/*.measured.test.ts'], exclude } },
      { extends: true, test: { name: 'bench', include: ['bench/test/**/*.test.ts'], exclude } },
    ],
  },
});
