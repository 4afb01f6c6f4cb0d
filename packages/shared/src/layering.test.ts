import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The layers of @vmo/shared, bottom first. A module may import its own layer and the layers below,
 * never one above: the domain words mean the same whatever stores them, the stores do not know
 * about jobs, and the services on top can be read one at a time. Every top-level directory (or
 * file) under src/ is in exactly one layer; a new one fails this test until it is placed here.
 */
const LAYERS: readonly (readonly string[])[] = [
  // 0: plain types and rules (statuses, targets, output streams, labels, ids, timings); nothing of ours.
  ['domain'],
  // 1: what every process needs before it talks to anything: errors, configuration, logging, OS processes,
  // the sealing of secrets at rest, the process's metrics (prom-client; fed by the layers above through plain calls),
  // the one Redis connection factory (redis.ts: the start-up check in config/ opens its connections too),
  // group commit (batch/: many callers' items in one statement, each answered its own outcome).
  ['errors', 'config', 'logger', 'log-line', 'tokens', 'secrets', 'background', 'batch', 'shutdown-signal', 'process', 'metrics', 'redis'],
  // 2: the stores and the wire: Postgres, Redis keys in use, BullMQ, the messages on them, the output path.
  ['db', 'queue', 'protocol', 'bus', 'presence', 'logsink', 'output'],
  // 3: the open handles of the stores, handed to every service function.
  ['control-plane'],
  // 4: the services, peers of each other; `access` (authorization by policy) and `audit` (it resolves names to ids as the services do) among them.
  ['jobs', 'agents', 'hosts', 'targets', 'runs', 'access', 'users', 'audit', 'schedules', 'commands', 'shells', 'projects', 'retention', 'workspaces'],
  // 5: the HTTP contracts (schemas of every route), built from the services' inputs.
  ['api'],
  // 6: the root barrel.
  ['index'],
];

const SRC = dirname(fileURLToPath(import.meta.url));
const VENDOR = resolve(SRC, '../vendor');
const layerOf = new Map(LAYERS.flatMap((units, layer) => units.map((unit) => [unit, layer] as const)));

/** `jobs/stop-job.ts` → `jobs`; `redis.ts` → `redis`. */
const unitOf = (file: string): string => {
  const [first, ...rest] = relative(SRC, file).split(sep);
  return rest.length > 0 ? first! : first!.replace(/\.ts$/, '');
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    // Tests may build their fixtures from any layer; the rule is for what ships.
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') ? [path] : [];
  });
}

/** Every module specifier a file imports or re-exports (static, type-only and dynamic). */
function importsOf(text: string): string[] {
  return ts.preProcessFile(text, true, true).importedFiles.map((f) => f.fileName);
}

/** The imports that break the layering, as "from → to (why)" lines; empty when all is well. */
function layeringViolations(files: string[]): string[] {
  const problems: string[] = [];
  for (const file of files) {
    const from = unitOf(file);
    const fromLayer = layerOf.get(from);
    if (fromLayer === undefined) {
      problems.push(`${relative(SRC, file)}: "${from}" has no layer: add it to LAYERS in layering.test.ts`);
      continue;
    }
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      if (spec.startsWith('@vmo/')) {
        problems.push(`${relative(SRC, file)} imports ${spec}: @vmo/shared depends on no other workspace`);
        continue;
      }
      if (!spec.startsWith('.')) continue; // a library
      const target = resolve(dirname(file), spec);
      if (!target.startsWith(SRC + sep)) {
        // Third-party code kept in the repository (packages/shared/vendor/) is a library, not a layer.
        if (!target.startsWith(VENDOR + sep)) problems.push(`${relative(SRC, file)} imports ${spec}, outside src/`);
        continue;
      }
      const to = unitOf(target);
      const toLayer = layerOf.get(to);
      if (toLayer === undefined) continue; // reported when that unit's own files are read
      if (toLayer > fromLayer) problems.push(`${relative(SRC, file)} (${from}, layer ${fromLayer}) imports ${spec} (${to}, layer ${toLayer})`);
    }
  }
  return problems;
}

describe('@vmo/shared layering', () => {
  it('no module imports a layer above its own, and every unit has a layer', () => {
    const files = sourceFiles(SRC);
    expect(files.length).toBeGreaterThan(50);
    expect(layeringViolations(files)).toEqual([]);
  });

  it('the domain layer imports nothing of ours outside itself', () => {
    const outside = sourceFiles(join(SRC, 'domain')).flatMap((file) =>
      importsOf(readFileSync(file, 'utf8'))
        .filter((spec) => spec.startsWith('@vmo/') || (spec.startsWith('.') && !resolve(dirname(file), spec).startsWith(join(SRC, 'domain') + sep)))
        .map((spec) => `${relative(SRC, file)} imports ${spec}`),
    );
    expect(outside).toEqual([]);
  });

  it('reads every kind of import and re-export', () => {
    const text = [
      "import { a } from './a.ts';",
      "import type { B } from '../b/b.ts';",
      "export * from './c.ts';",
      "export { d } from './d.ts';",
      "const e = await import('./e.ts');",
      "import 'zod';",
    ].join('\n');
    expect(importsOf(text)).toEqual(['./a.ts', '../b/b.ts', './c.ts', './d.ts', './e.ts', 'zod']);
  });
});
