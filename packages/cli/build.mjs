// The one-file bundle: `npm run build -w @vmo/cli` → dist/vmo.mjs, which runs with Node ≥ 20 and
// nothing else (no node_modules). The tests build their own copy with buildBundle(outfile).
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));

export function buildBundle(outfile) {
  return build({
    entryPoints: [`${here}src/main.ts`],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    outfile,
    logLevel: 'warning',
    // ws (and commander) call require(): give the ESM bundle one.
    banner: { js: "#!/usr/bin/env node\nimport { createRequire as __vmoCreateRequire } from 'node:module'; const require = __vmoCreateRequire(import.meta.url);" },
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildBundle(`${here}dist/vmo.mjs`);
  console.log('dist/vmo.mjs');
}
