import type postgres from 'postgres';
import type { LabelSelector, Requirement } from '../domain/label-selector.ts';

/**
 * A parsed label selector as a SQL condition over a jsonb label column (or expression), with the
 * same meaning as `matchesLabelSelector` (domain/label-selector.ts; the targets e2e test checks
 * both agree). Written with the operators a GIN index on the column serves: `@>` for `=` and `in`,
 * `?` for exists; `!=`, `notin` and `!` are negations (Kubernetes semantics: they match a
 * label set without the key), which no index serves, so they only narrow rows found otherwise.
 * Every key and value is a bound parameter.
 */
export function labelSelectorSql(sql: postgres.Sql, labels: postgres.Fragment, selector: LabelSelector): postgres.Fragment {
  if (selector.length === 0) return sql`true`;
  return selector.map((r) => requirementSql(sql, labels, r)).reduce((acc, cond) => sql`${acc} and ${cond}`);
}

function requirementSql(sql: postgres.Sql, labels: postgres.Fragment, r: Requirement): postgres.Fragment {
  // `{"k":"v"}` as jsonb: containment is the indexable form of `labels->>k = v`.
  const pair = (v: string) => sql`${labels} @> ${JSON.stringify({ [r.key]: v })}::jsonb`;
  const anyOf = () => r.values.map(pair).reduce((acc, cond) => sql`${acc} or ${cond}`);
  switch (r.operator) {
    case 'exists':
      return sql`(${labels} ? ${r.key})`;
    case '!':
      return sql`not (${labels} ? ${r.key})`;
    case '=':
    case 'in':
      return sql`(${anyOf()})`;
    case '!=':
    case 'notin':
      return sql`not (${anyOf()})`;
  }
}
