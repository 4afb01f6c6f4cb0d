// How the agent is bundled into one file, in ONE place: `npm run build` (build.mjs) and the API's
// GET /v1/agent/download (services/api/src/routes/agent-bundle.ts, which reads this file from the
// agent's directory as an asset: the API does not depend on the agent) both build with exactly
// these options, so the file a VM gets from the server is byte for byte the one `npm run build`
// writes from the same sources. Data only: it imports nothing (the caller brings esbuild).

/**
 * esbuild's options for the agent bundle, given the agent's directory (absolute, ending in /).
 * One ES module for Node 20, every dependency inlined, with a `require` for the CommonJS ones
 * (ws) that esbuild inlines. The caller adds where the output goes (outfile, write).
 */
export function agentBuildOptions(agentDir) {
  return {
    entryPoints: [`${agentDir}src/main.ts`],
    absWorkingDir: agentDir,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    // A native module (SHELL.md §S5): loaded from node_modules where it is installed; an agent
    // without it offers no shells (src/shell/shell-host.ts).
    external: ['node-pty'],
    banner: { js: "import { createRequire as __vmoCreateRequire } from 'node:module'; const require = __vmoCreateRequire(import.meta.url);" },
    plugins: [sharedWithoutSideEffects],
  };
}

/**
 * The agent imports a few constants and functions from @vmo/shared's topic indexes, which also
 * re-export the zod schemas the API parses with. Telling esbuild that shared's modules do nothing
 * when merely imported (true: they declare things) lets it leave out every module the agent does
 * not use, and with them zod (issue 16: zod was 81 % of the bundle). What the agent does use lives
 * in files that import no zod (protocol/constants.ts, check-server-frame.ts, log-line/levels.ts…);
 * agent-bundle.test.ts fails if zod comes back.
 */
const sharedWithoutSideEffects = {
  name: 'vmo-shared-without-side-effects',
  setup(build) {
    build.onResolve({ filter: /^(@vmo\/shared|\.\.?\/)/ }, async (args) => {
      if (args.pluginData === 'resolving') return undefined;
      const resolved = await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: 'resolving' });
      if (resolved.errors.length > 0 || !/[\\/]packages[\\/]shared[\\/]src[\\/]/.test(resolved.path)) return resolved;
      return { ...resolved, sideEffects: false };
    });
  },
};
