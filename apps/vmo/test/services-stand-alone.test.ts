import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * No service depends on another: each starts alone (`npm run api|worker|agent`) and can be read,
 * changed and deployed on its own. Only this app (the composition root) puts them together.
 */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SERVICES = join(ROOT, 'services');
const services = readdirSync(SERVICES, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
const packageName = (dir: string): string => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name;
const servicePackages = new Set(services.map((s) => packageName(join(SERVICES, s))));

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name === 'node_modules' || entry.name === 'dist') return [];
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return tsFiles(path);
    return /\.(ts|mts|mjs)$/.test(entry.name) ? [path] : [];
  });
}

describe('services stand alone', () => {
  it('finds the services', () => {
    expect([...servicePackages].sort()).toEqual(['@vmo/agent', '@vmo/api', '@vmo/worker']);
  });

  it('no service lists another among its dependencies', () => {
    const found = services.flatMap((s) => {
      const pkg = JSON.parse(readFileSync(join(SERVICES, s, 'package.json'), 'utf8'));
      const deps = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies, ...pkg.peerDependencies });
      return deps.filter((d) => servicePackages.has(d) && d !== pkg.name).map((d) => `services/${s}/package.json depends on ${d}`);
    });
    expect(found).toEqual([]);
  });

  it('no workspace a service depends on depends on a service (no service reached through a package, as @vmo/ssh must not)', () => {
    // Production dependencies, followed through the workspaces: what a service's install carries.
    const workspaceDirs = new Map<string, string>();
    for (const top of ['packages', 'services']) {
      for (const d of readdirSync(join(ROOT, top), { withFileTypes: true })) {
        if (d.isDirectory()) {
          try {
            workspaceDirs.set(packageName(join(ROOT, top, d.name)), join(ROOT, top, d.name));
          } catch {
            // not a workspace (no package.json)
          }
        }
      }
    }
    const depsOf = (name: string): string[] => Object.keys(JSON.parse(readFileSync(join(workspaceDirs.get(name)!, 'package.json'), 'utf8')).dependencies ?? {});
    const found = [...servicePackages].flatMap((service) => {
      const seen = new Set<string>();
      const walk = (name: string, path: string[]): string[] =>
        depsOf(name).flatMap((dep) => {
          if (!workspaceDirs.has(dep) || seen.has(dep)) return [];
          seen.add(dep);
          if (servicePackages.has(dep)) return [`${[...path, dep].join(' -> ')}`];
          return walk(dep, [...path, dep]);
        });
      return walk(service, [service]);
    });
    expect(found).toEqual([]);
  });

  it("no service's code or tests import another service, by package or by path", () => {
    const found = services.flatMap((s) => {
      const own = join(SERVICES, s);
      const self = packageName(own);
      return tsFiles(own).flatMap((file) =>
        ts.preProcessFile(readFileSync(file, 'utf8'), true, true).importedFiles
          .map((f) => f.fileName)
          .filter((spec) => {
            const pkg = spec.split('/').slice(0, 2).join('/');
            if (servicePackages.has(pkg)) return pkg !== self;
            return spec.startsWith('.') && resolve(dirname(file), spec).startsWith(SERVICES + sep) && !resolve(dirname(file), spec).startsWith(own + sep);
          })
          .map((spec) => `${relative(ROOT, file)} imports ${spec}`),
      );
    });
    expect(found).toEqual([]);
  });

  it('npm start runs this app, and each service has its own script', () => {
    // Built JavaScript, and `exec`: npm's child is node itself, which gets the signal npm forwards
    // (apps/vmo/test/sigterm.e2e.test.ts says why).
    const scripts = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts;
    expect(scripts.start).toBe('exec node apps/vmo/dist/main.mjs');
    expect(scripts.api).toBe('exec node services/api/dist/main.mjs');
    expect(scripts.worker).toBe('exec node services/worker/dist/main.mjs');
    expect(scripts.agent).toBe('exec node services/agent/dist/vmo-agent.mjs');
  });
});
