import { formatAgo } from '../../lib/format.ts';

const DAY_MS = 86_400_000;
const sameYear = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
const otherYear = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' });

/** When a job was created, short enough for a table cell: "5 min ago", then "Nov 29, 17:20" (the full time is its title). */
export function shortAgo(iso: string, now: number): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime()) || now - at.getTime() < DAY_MS) return formatAgo(iso, now);
  return (at.getFullYear() === new Date(now).getFullYear() ? sameYear : otherYear).format(at);
}
