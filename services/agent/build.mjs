// `npm run build -w @vmo/agent` → dist/vmo-agent.mjs; `node build.mjs FILE` writes FILE instead
// (deploy/install.sh builds into its scratch directory this way). The options are build-options.mjs,
// the ones the API's GET /v1/agent/download builds with.
import { fileURLToPath } from 'node:url';
import { resolve } from 'node:path';
import { build } from 'esbuild';
import { agentBuildOptions } from './build-options.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const outfile = process.argv[2] ? resolve(process.argv[2]) : `${here}dist/vmo-agent.mjs`;
await build({ ...agentBuildOptions(here), outfile, logLevel: 'warning' });
console.log(outfile);
