#!/usr/bin/env node
// `vmo` from the repository (`npx vmo …` after `npm ci`): the TypeScript sources through tsx's
// loader, so no build step is needed. The one-file bundle (`npm run build -w @vmo/cli` →
// dist/vmo.mjs) is what gets installed elsewhere.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
