/** A name/value row of the new-job form (env, labels). */
export interface Pair {
  key: string;
  value: string;
}

/** The rows as the API's object: rows with no name are left out (an empty row is not a mistake). */
export function pairsToRecord(rows: readonly Pair[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { key, value } of rows) if (key.trim() !== '') out[key.trim()] = value;
  return out;
}
