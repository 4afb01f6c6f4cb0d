import type postgres from 'postgres';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import { labelSelectorSql } from '../db/label-selector-sql.ts';
import { parseLabelSelector, type LabelSelector } from '../domain/label-selector.ts';
import type { TargetKind } from '../domain/target-kind.ts';
import { AppError } from '../errors/app-error.ts';
import { resolveHost } from '../hosts/resolve-host.ts';
import type { DefaultTargetInput } from './command-input.ts';
import { commandColumns, commandView, type CommandView } from './command-view.ts';

/** One agent or inventory host, as GET /v1/agents/{id}/commands and /v1/hosts/{id}/commands found it. */
export type Machine = { kind: 'agent'; id: string; name: string } | { kind: 'ssh'; id: string; name: string; environment: string };

/** Selectors judged per statement: one boolean column each over the machine's one row. */
const SELECTORS_PER_STATEMENT = 200;

/**
 * The live commands whose defaultTarget is this machine: a job target naming it (an agent by id
 * or name; a host by id, name@environment, or a bare name that resolves to it), or run targets
 * that would include it (its kind allowed by `kinds`, and the selector matching its labels (an
 * agent's registered labels over its reported ones, as a run resolves them), or the `agents` /
 * `hosts` list naming it). By name. The `local` target is no machine: never listed here.
 *
 * The selectors are judged in Postgres with the one SQL form of a selector (db/label-selector-sql.ts),
 * the same a run's resolution uses, over the machine's own row: what is listed here is what a run
 * of the command would target now.
 */
export async function commandsForMachine(cp: ControlPlane, machine: Machine): Promise<CommandView[]> {
  const sql = cp.database.sql;
  const refs = machine.kind === 'agent' ? [machine.id, machine.name] : [machine.id, `${machine.name}@${machine.environment}`, machine.name];
  const direct = machine.kind === 'agent' ? sql`v.default_target->>'type' = 'agent' and v.default_target->>'agent' = any(${refs}::text[])` : sql`v.default_target->>'type' = 'ssh' and v.default_target->>'host' = any(${refs}::text[])`;
  // Narrowed in SQL: job targets naming the machine, and every run-targets default (judged below).
  const rows = await sql`
    select ${commandColumns(sql)} from commands c
    join command_versions v on v.name = c.name and v.version = c.latest_version
    where c.deleted_at is null and v.default_target is not null
      and ((${direct}) or not (v.default_target ? 'type'))
    order by c.name`;
  const candidates = rows.map(commandView);

  const bareHost = machine.kind === 'ssh' ? await bareNameIsHost(cp, machine) : false;
  const names = (list: readonly string[] | undefined) => (list ?? []).some((ref) => ref === machine.id || (machine.kind === 'agent' ? ref === machine.name : ref === `${machine.name}@${machine.environment}` || (ref === machine.name && bareHost)));
  const matched = new Set<string>();
  const selectors: { name: string; selector: LabelSelector }[] = [];
  for (const c of candidates) {
    const t = c.defaultTarget as DefaultTargetInput;
    if ('type' in t) {
      // A bare host name in a job target names this host only if it resolves to it.
      if (t.type === 'ssh' && t.host === machine.name && !bareHost) continue;
      matched.add(c.name);
      continue;
    }
    if (names(machine.kind === 'agent' ? t.agents : t.hosts)) {
      matched.add(c.name);
      continue;
    }
    if (t.selector !== undefined && kindAllowed(t.kinds, machine.kind)) selectors.push({ name: c.name, selector: parseLabelSelector(t.selector) });
  }
  for (let i = 0; i < selectors.length; i += SELECTORS_PER_STATEMENT) {
    const batch = selectors.slice(i, i + SELECTORS_PER_STATEMENT);
    const hits = await selectorsMatching(sql, machine, batch.map((s) => s.selector));
    hits.forEach((hit, j) => hit && matched.add(batch[j]!.name));
  }
  return candidates.filter((c) => matched.has(c.name));
}

const kindAllowed = (kinds: readonly TargetKind[] | undefined, kind: TargetKind) => kinds === undefined || kinds.includes(kind);

/** Whether the host's bare name resolves to it (the one in `default`, or the only one of that name), as a job target names hosts. */
async function bareNameIsHost(cp: ControlPlane, host: Extract<Machine, { kind: 'ssh' }>): Promise<boolean> {
  try {
    return (await resolveHost(cp.database.db, host.name))?.id === host.id;
  } catch (err) {
    if (err instanceof AppError && err.code === 'ambiguous_host') return false;
    throw err;
  }
}

/** For each selector, whether it matches the machine: one statement, one boolean column per selector. */
async function selectorsMatching(sql: postgres.Sql, machine: Machine, selectors: readonly LabelSelector[]): Promise<boolean[]> {
  if (selectors.length === 0) return [];
  // The labels a run's selector reads (runs/resolve-run-targets.ts): an agent's registered ones win over what it reports.
  const labels = machine.kind === 'agent' ? sql`(m.reported_labels || m.labels)` : sql`m.labels`;
  const columns = selectors.map((s, i) => sql`(${labelSelectorSql(sql, labels, s)}) as ${sql(`s${i}`)}`).reduce((acc, col) => sql`${acc}, ${col}`);
  const [row] = machine.kind === 'agent' ? await sql`select ${columns} from agents m where m.id = ${machine.id}` : await sql`select ${columns} from hosts m where m.id = ${machine.id}`;
  return selectors.map((_, i) => row?.[`s${i}`] === true);
}
