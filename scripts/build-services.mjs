// The services as built JavaScript, in ONE place: `npm run build` (each service's `build` script
// calls this file with its name), `npm start`'s and `npm run api|worker|agent`'s pre-scripts
// (`--if-stale`: build only when a source changed), and the Dockerfile's build stage.
//
//   node scripts/build-services.mjs [--if-stale] [app|api|worker|agent ...]   (none: all four)
//
// app, api and worker: our workspaces' code (TypeScript) bundled into one ES module per entry;
// the packages from node_modules stay imports, loaded at run time as the tests load them under
// tsx. Bundling those too was tried and is worse here: bullmq reads its package.json and its
// sandbox files by __dirname and loads msgpackr-extract (native) the same way, ssh2 needs its
// optional native binding, pino resolves worker files beside itself, and esbuild (the API's agent
// download) is a binary; nor did it lower the memory a process holds. The production image
// installs node_modules anyway (`npm ci --omit=dev`). An import stays an import only where the
// bundle finds the very package its source would (see nodeModulesExternal).
//
// The agent is built with its own options (services/agent/build-options.mjs: every dependency
// inlined, one file a VM can run with Node alone), the same bytes GET /v1/agent/download serves.
import { builtinModules, createRequire } from 'node:module';
import { existsSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { agentBuildOptions } from '../services/agent/build-options.mjs';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const THIS_FILE = fileURLToPath(import.meta.url);

/**
 * What each name builds (entry and output relative to the repository), and whose esbuild builds
 * it: the agent with its own (so this file is byte for byte its build.mjs and the download), the
 * others with the API's (a dependency it declares), not whichever version npm hoisted to the root.
 */
export const SERVICES = {
  app: { entry: 'apps/vmo/src/main.ts', outfile: 'apps/vmo/dist/main.mjs', esbuildOf: 'services/api' },
  api: { entry: 'services/api/src/main.ts', outfile: 'services/api/dist/main.mjs', esbuildOf: 'services/api' },
  worker: { entry: 'services/worker/src/main.ts', outfile: 'services/worker/dist/main.mjs', esbuildOf: 'services/api' },
  agent: { entry: 'services/agent/src/main.ts', outfile: 'services/agent/dist/vmo-agent.mjs', esbuildOf: 'services/agent' },
};

/** esbuild as the workspace at `dir` resolves it. */
async function esbuildOf(dir) {
  const path = createRequire(join(ROOT, dir, 'package.json')).resolve('esbuild');
  return import(pathToFileURL(path).href);
}

// ws and commander-style CommonJS code inside the ESM bundle calls require(): give it one.
const REQUIRE_BANNER = "import { createRequire as __vmoCreateRequire } from 'node:module'; const require = __vmoCreateRequire(import.meta.url);";

/**
 * Which imports stay imports, and how they are written. Our workspaces (@vmo/…) are inlined;
 * Node's built-ins stay. Every other package stays an import of the very copy the importing source
 * uses: by its name when Node, resolving that name from the bundle's folder, finds that same copy;
 * otherwise by its path relative to the bundle. `npm ci` lays node_modules out as the lockfile says
 * (the production install is that layout less the dev packages), and some copies are nested: from
 * services/api/dist, `nanoid` would be the root's nanoid 3 (a dev tool's) instead of shared's
 * nanoid 5 under packages/shared/node_modules, and `esbuild` tsx's 0.28 instead of the API's 0.25.
 * A package our source imports must also be in its workspace's `dependencies`, or a production
 * install would not have it: the build stops saying so.
 */
const RESOLVING = Symbol('resolving');

function nodeModulesExternal(outfile) {
  const outDir = dirname(resolve(ROOT, outfile));
  return {
    name: 'node-modules-external',
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.kind === 'entry-point' || args.pluginData === RESOLVING) return undefined;
        const spec = args.path;
        if (spec.startsWith('node:') || builtinModules.includes(spec)) return { path: spec, external: true };
        const pkg = packageNameOf(spec);
        if (pkg.startsWith('@vmo/')) return undefined;
        if (!args.importer.split(sep).includes('node_modules')) {
          const manifest = nearestManifest(args.resolveDir);
          if (!(pkg in (JSON.parse(readFileSync(manifest, 'utf8')).dependencies ?? {}))) {
            return { errors: [{ text: `${relative(ROOT, args.importer)} imports ${pkg}, which ${relative(ROOT, manifest)} does not list in "dependencies": a production install (npm ci --omit=dev) would not have it` }] };
          }
        }
        const forSource = packageDirFrom(pkg, args.resolveDir);
        if (forSource !== undefined && forSource === packageDirFrom(pkg, outDir)) return { path: spec, external: true };
        // The copy the source uses, as a path from the bundle: the file esbuild itself resolves.
        const found = await b.resolve(spec, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: RESOLVING });
        if (found.errors.length > 0) return { errors: found.errors };
        const path = relative(outDir, found.path).split(sep).join('/');
        return { path: path.startsWith('.') ? path : `./${path}`, external: true };
      });
    },
  };
}

/** `@scope/name/sub` → `@scope/name`; `name/sub` → `name`. */
function packageNameOf(spec) {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** The folder of `pkg` as Node finds it from `fromDir` (node_modules up the tree), links resolved. */
function packageDirFrom(pkg, fromDir) {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', pkg);
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate);
    if (dirname(dir) === dir) return undefined;
  }
}

function nearestManifest(fromDir) {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'package.json');
    if (dirname(dir) === dir) throw new Error(`no package.json above ${fromDir}`);
  }
}

/**
 * `import.meta.url` in our sources means the source file's own place: migrate.ts finds
 * packages/shared/drizzle beside it, the API finds the agent's sources and the dashboard's dist/.
 * In a bundle it would be the bundle's place, so it is rewritten to the source file's URL,
 * relative to the bundle: the built files keep working wherever the tree is (the image's /app,
 * a clone anywhere) as long as the repository's layout is kept.
 */
function sourceFileUrls(outfile) {
  const outDir = dirname(resolve(ROOT, outfile));
  return {
    name: 'source-file-urls',
    setup(b) {
      b.onLoad({ filter: /\.(ts|mts|js|mjs)$/ }, (args) => {
        if (args.path.split(sep).includes('node_modules')) return undefined;
        const text = readFileSync(args.path, 'utf8');
        if (!text.includes('import.meta.url')) return undefined;
        const rel = relative(outDir, args.path).split(sep).join('/');
        const contents = text.replaceAll('import.meta.url', `new URL(${JSON.stringify(rel)}, import.meta.url).href`);
        return { contents, loader: /\.m?ts$/.test(args.path) ? 'ts' : 'js' };
      });
    },
  };
}

function optionsFor(name) {
  const { entry, outfile } = SERVICES[name];
  if (name === 'agent') return agentBuildOptions(join(ROOT, 'services/agent/'));
  return {
    entryPoints: [join(ROOT, entry)],
    absWorkingDir: ROOT,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    banner: { js: REQUIRE_BANNER },
    plugins: [nodeModulesExternal(outfile), sourceFileUrls(outfile)],
  };
}

/** The list of inputs kept beside a bundle, to tell later whether it is stale. */
const inputsFile = (outfile) => `${outfile}.inputs.json`;

/**
 * Stale when the bundle or its inputs list is missing, or when any file it was built from (as
 * esbuild listed them: sources, the package.json files they import, bundled packages), this
 * script, the agent's options or the lockfile changed after it. A new file cannot matter unless
 * an existing one changed to import it.
 */
export function isStale(name) {
  const outfile = join(ROOT, SERVICES[name].outfile);
  const built = statSync(outfile, { throwIfNoEntry: false });
  if (!built || !existsSync(inputsFile(outfile))) return true;
  const inputs = JSON.parse(readFileSync(inputsFile(outfile), 'utf8'));
  const watched = [...inputs, THIS_FILE, join(ROOT, 'package-lock.json'), join(ROOT, 'services/agent/build-options.mjs')];
  return watched.some((file) => (statSync(resolve(ROOT, file), { throwIfNoEntry: false })?.mtimeMs ?? Infinity) > built.mtimeMs);
}

/** Build one service; written beside, then renamed, so a running process never reads half a file. */
export async function buildService(name) {
  const outfile = join(ROOT, SERVICES[name].outfile);
  mkdirSync(dirname(outfile), { recursive: true });
  const partial = `${outfile}.${process.pid}.partial`;
  try {
    const options = optionsFor(name);
    const { build } = await esbuildOf(SERVICES[name].esbuildOf);
    const result = await build({ ...options, outfile: partial, metafile: true, logLevel: 'warning' });
    // esbuild names inputs relative to its working directory (the agent's is its own folder).
    const inputs = Object.keys(result.metafile.inputs).map((input) => relative(ROOT, resolve(options.absWorkingDir, input)));
    renameSync(partial, outfile);
    writeFileSync(inputsFile(outfile), `${JSON.stringify(inputs, null, 1)}\n`);
    return { outfile: relative(ROOT, outfile), bytes: statSync(outfile).size };
  } finally {
    rmSync(partial, { force: true });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === THIS_FILE) {
  const args = process.argv.slice(2);
  const ifStale = args.includes('--if-stale');
  const names = args.filter((a) => a !== '--if-stale');
  for (const name of names) if (!(name in SERVICES)) {
    process.stderr.write(`build-services: unknown service ${name} (one of ${Object.keys(SERVICES).join(', ')})\n`);
    process.exit(64);
  }
  for (const name of names.length ? names : Object.keys(SERVICES)) {
    if (ifStale && !isStale(name)) continue;
    const started = Date.now();
    const { outfile, bytes } = await buildService(name);
    process.stderr.write(`built ${outfile} (${Math.round(bytes / 1024)} KiB, ${Date.now() - started} ms)\n`);
  }
}
