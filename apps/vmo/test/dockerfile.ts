/**
 * Just enough of a Dockerfile parser for container-files.test.ts: stages and their instructions,
 * continuation lines joined, comments dropped. Exec-form arguments (JSON arrays) are parsed as
 * JSON; everything else is split on spaces (no quoting: our Dockerfile needs none outside JSON).
 */
export interface Instruction {
  /** Upper case: FROM, COPY, RUN, … */
  op: string;
  /** `--name=value` flags before the arguments (COPY --from=build, HEALTHCHECK --interval=10s). */
  flags: Record<string, string>;
  /** The arguments after the flags: a JSON array's items, or the words. */
  args: string[];
  /** The text after the op and flags, as written (RUN's command line). */
  text: string;
}

export interface Stage {
  /** `AS name`, or the stage's index as text. */
  name: string;
  base: string;
  instructions: Instruction[];
}

export function parseDockerfile(source: string): Stage[] {
  const lines = source.split('\n').filter((line) => !/^\s*#/.test(line));
  const joined = lines.join('\n').replace(/\\\n/g, ' ');
  const stages: Stage[] = [];
  for (const line of joined.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed) continue;
    const [, op = '', rest = ''] = /^(\S+)\s*(.*)$/.exec(trimmed) ?? [];
    const instruction = parseInstruction(op.toUpperCase(), rest);
    if (instruction.op === 'FROM') {
      const [base = '', as, name] = instruction.args;
      stages.push({ name: as?.toUpperCase() === 'AS' && name ? name : String(stages.length), base, instructions: [] });
      continue;
    }
    const stage = stages.at(-1);
    if (!stage) throw new Error(`${instruction.op} before the first FROM`);
    stage.instructions.push(instruction);
  }
  return stages;
}

function parseInstruction(op: string, rest: string): Instruction {
  const flags: Record<string, string> = {};
  let text = rest;
  // HEALTHCHECK's own flags come before CMD; COPY's before the sources.
  for (let m = /^--([\w-]+)=(\S+)\s*/.exec(text); m; m = /^--([\w-]+)=(\S+)\s*/.exec(text)) {
    flags[m[1]!] = m[2]!;
    text = text.slice(m[0].length);
  }
  if (op === 'HEALTHCHECK') {
    const [, sub = '', body = ''] = /^(\S+)\s*(.*)$/.exec(text) ?? [];
    return { op, flags, args: [sub.toUpperCase(), ...argsOf(body)], text };
  }
  return { op, flags, args: argsOf(text), text };
}

function argsOf(text: string): string[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) return JSON.parse(trimmed) as string[];
  return trimmed.split(/\s+/).filter(Boolean);
}

/** A COPY's sources and destination. */
export function copyOf(instruction: Instruction): { from: string | undefined; sources: string[]; dest: string } {
  if (instruction.op !== 'COPY') throw new Error(`not a COPY: ${instruction.op}`);
  const args = [...instruction.args];
  const dest = args.pop()!;
  return { from: instruction.flags.from, sources: args, dest };
}
