/**
 * The client (and the contracts it is built from) must load in a browser: no server code, no
 * Node built-in, nothing but zod at run time (and `ws`, imported lazily, only when no browser
 * WebSocket is given). Walks the run-time imports from the client's entry point.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SHARED_EXPORTS = JSON.parse(readFileSync(resolve(ROOT, 'packages/shared/package.json'), 'utf8')).exports as Record<string, string>;

/** Every module reached by a value import (`import type` and `export type` carry no code). */
function runtimeGraph(entry: string): { files: string[]; packages: Set<string> } {
  const files: string[] = [];
  const packages = new Set<string>();
  const todo = [entry];
  while (todo.length > 0) {
    const file = todo.pop()!;
    if (files.includes(file)) continue;
    files.push(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/^(?:import|export)\s+(?!type\b)(?:[^'";]*?from\s+)?'([^']+)'/gm)) {
      const spec = m[1]!;
      if (spec.startsWith('.')) todo.push(resolve(dirname(file), spec));
      else if (spec.startsWith('@vmo/shared')) todo.push(resolve(ROOT, 'packages/shared', SHARED_EXPORTS[`.${spec.slice('@vmo/shared'.length)}`]!));
      else packages.add(spec);
    }
  }
  return { files, packages };
}

describe('@vmo/client imports no server code', () => {
  it('reaches only the contracts, the domain rules they use, and zod', () => {
    const { files, packages } = runtimeGraph(resolve(ROOT, 'packages/client/src/index.ts'));
    expect([...packages].sort()).toEqual(['zod']);
    const shared = files.filter((f) => f.includes('packages/shared/')).map((f) => f.slice(f.indexOf('packages/shared/src/') + 'packages/shared/src/'.length));
    // Input schemas (`<service>/<thing>-input.ts`) are pure zod over the domain; whatever they import is walked and checked too.
    // protocol/shell-constants.ts: the shell protocol's numbers (no import at all), which its messages use.
    // bus/messages/changes.ts: the events feed's message schema (pure zod), which GET /v1/events' contract reuses.
    for (const f of shared) expect(f, `${f} is server-side`).toMatch(/^(api|errors|domain|protocol\/(subscriber|shell)-messages|protocol\/shell-constants\.ts$|bus\/messages\/changes\.ts$|[a-z-]+\/[a-z-]+-input\.ts$|agents\/max-concurrent-jobs|runs\/summary-limits)/);
    // `ws` only through a dynamic import, taken when no browser WebSocket is given.
    expect(readFileSync(resolve(ROOT, 'packages/client/src/stream.ts'), 'utf8')).toContain("await import('ws')");
  });
});
