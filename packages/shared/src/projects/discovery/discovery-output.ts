/** Why a discovery job could not say, from the script's own words (discovery-script.ts). */
export const SCRIPT_ERRORS = ['dir_missing', 'no_makefile', 'no_make', 'not_gnu_make'] as const;
export type ScriptError = (typeof SCRIPT_ERRORS)[number];

/** What a discovery job printed on stdout, section by section. */
export interface DiscoveryOutput {
  error?: ScriptError;
  database?: string;
  /** make's stderr, its `:` goal's complaint left out. */
  makeStderr?: string;
  /** Each makefile's source, by its path in MAKEFILE_LIST. */
  sources: Record<string, string>;
  list?: { text: string; exitCode: number };
}

/**
 * Read the sections of a discovery job's stdout. A section without its end line (output cut by
 * VMO_MAX_OUTPUT_BYTES, the job killed) is left out, so the caller sees it missing.
 */
export function readDiscoveryOutput(stdout: string, marker: string): DiscoveryOutput {
  const out: DiscoveryOutput = { sources: {} };
  const lines = stdout.split('\n');
  const begin = `${marker} begin `;
  const endPrefix = `${marker} end `;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith(`${marker} error `)) {
      const code = line.slice(marker.length + 7);
      if ((SCRIPT_ERRORS as readonly string[]).includes(code)) out.error = code as ScriptError;
      continue;
    }
    if (!line.startsWith(begin)) continue;
    const what = line.slice(begin.length);
    const body: string[] = [];
    let end: string | undefined;
    for (i++; i < lines.length; i++) {
      if (lines[i]!.startsWith(endPrefix)) {
        end = lines[i]!.slice(endPrefix.length);
        break;
      }
      body.push(lines[i]!);
    }
    if (end === undefined) break;
    const text = body.join('\n');
    if (what === 'database') out.database = text;
    else if (what === 'stderr') out.makeStderr = text;
    else if (what.startsWith('file ')) out.sources[what.slice(5)] = text;
    else if (what === 'list') out.list = { text, exitCode: Number(/^list (\d+)$/.exec(end)?.[1] ?? NaN) };
  }
  return out;
}
