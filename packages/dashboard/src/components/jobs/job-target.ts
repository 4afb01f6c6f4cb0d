import type { Job } from '@vmo/shared/api';

export type TargetKind = 'local' | 'agent' | 'ssh';

/** A target as the form holds it: the kind, and the agent's or host's name or id (unused for local). */
export interface TargetChoice {
  kind: TargetKind;
  name: string;
}

/**
 * The one home of a job's target as the dashboard writes and reads it: in one word for a URL
 * (`?target=agent:web-1`), as the form's choice, as the API's body, and as the pages show it.
 *
 * `local`, `agent:web-1`, `ssh:db-1@prod`: a target in one word, as `vmo run --on` takes it and
 * as `/jobs/new?target=` pre-fills the form ("run again" from a job page).
 */
export function parseTargetParam(text: string | null | undefined): TargetChoice | undefined {
  if (!text) return undefined;
  if (text === 'local') return { kind: 'local', name: '' };
  const colon = text.indexOf(':');
  const kind = text.slice(0, colon);
  if (colon < 0 || (kind !== 'agent' && kind !== 'ssh')) return undefined;
  return { kind, name: text.slice(colon + 1) };
}

export function formatTargetParam(t: TargetChoice): string {
  return t.kind === 'local' ? 'local' : `${t.kind}:${t.name}`;
}

/** A job's target as the form's choice (the agent or host as it was given: an id or a name). */
export function targetChoice(target: Job['target']): TargetChoice {
  if (target.type === 'agent') return { kind: 'agent', name: target.agent };
  if (target.type === 'ssh') return { kind: 'ssh', name: target.host };
  return { kind: 'local', name: '' };
}

/** The body's `target` for POST /v1/jobs. */
export function targetInput(t: TargetChoice): { type: 'local' } | { type: 'agent'; agent: string } | { type: 'ssh'; host: string } {
  if (t.kind === 'agent') return { type: 'agent', agent: t.name.trim() };
  if (t.kind === 'ssh') return { type: 'ssh', host: t.name.trim() };
  return { type: 'local' };
}

/** Where a job runs, as the pages show it (after `jobTargetKind`): a run child's resolved name, else the target as given. */
export function jobTargetText(job: Pick<Job, 'target' | 'targetName'>): string {
  const t = job.target;
  if (t.type === 'local') return 'local';
  return job.targetName ?? (t.type === 'agent' ? t.agent : t.host);
}

/** The kind, for the muted prefix beside the name. */
export function jobTargetKind(job: Pick<Job, 'target'>): string {
  return job.target.type === 'ssh' ? 'ssh' : job.target.type === 'agent' ? 'agent' : '';
}
