import { sql, type SQL } from 'drizzle-orm';
import type { LabelSelector, Requirement } from '../domain/label-selector.ts';

/**
 * db/label-selector-sql.ts for drizzle queries (agents and hosts listings are written with
 * drizzle): the same conditions, operator for operator, every key and value bound. Any of
 * `selectors` matching is enough; none: false. The access test checks both agree with
 * matchesLabelSelector on the same rows.
 */
export function selectorsDrizzle(labels: SQL, selectors: readonly LabelSelector[]): SQL {
  if (selectors.length === 0) return sql`false`;
  if (selectors.some((s) => s.length === 0)) return sql`true`;
  return sql`(${sql.join(
    selectors.map((s) => sql`(${sql.join(s.map((r) => requirement(labels, r)), sql` and `)})`),
    sql` or `,
  )})`;
}

function requirement(labels: SQL, r: Requirement): SQL {
  const pair = (v: string) => sql`${labels} @> ${JSON.stringify({ [r.key]: v })}::jsonb`;
  const anyOf = () => sql`(${sql.join(r.values.map(pair), sql` or `)})`;
  switch (r.operator) {
    case 'exists':
      return sql`(${labels} ? ${r.key})`;
    case '!':
      return sql`not (${labels} ? ${r.key})`;
    case '=':
    case 'in':
      return anyOf();
    case '!=':
    case 'notin':
      return sql`not ${anyOf()}`;
  }
}
