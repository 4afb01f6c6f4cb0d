/**
 * Labels as a person types them in a form (`env=prod, role=web`, as `vmo agents add --labels`
 * takes them) and as the tables print them. Keys and values are checked by the API (a 400 naming
 * the label); here only the shape `k=v` is, so a typo is caught before anything is sent.
 */
export function parseLabelsText(text: string): { labels: Record<string, string> } | { error: string } {
  const labels: Record<string, string> = {};
  for (const pair of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) return { error: `labels: "${pair}" is not k=v (labels are k=v pairs separated by commas)` };
    labels[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
  }
  return { labels };
}

/** `env=prod, role=web`, sorted by key. */
export function labelsText(labels: Readonly<Record<string, string>>): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(', ');
}
