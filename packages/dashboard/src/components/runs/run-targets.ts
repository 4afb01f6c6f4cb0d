import type { RunListItem } from '@vmo/client';

/** What a run was asked to run on, as one line: the selector, then the explicit lists, then the kinds. */
export function describeTargets(targets: RunListItem['targets']): string {
  const parts: string[] = [];
  if (targets.selector !== undefined) parts.push(targets.selector === '' ? '(every target)' : targets.selector);
  if (targets.agents?.length) parts.push(`agents: ${targets.agents.join(', ')}`);
  if (targets.hosts?.length) parts.push(`hosts: ${targets.hosts.join(', ')}`);
  if (targets.kinds?.length) parts.push(`kinds: ${targets.kinds.join(', ')}`);
  return parts.join(' · ') || '—';
}
