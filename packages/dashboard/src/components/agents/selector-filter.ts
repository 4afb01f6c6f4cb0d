import { LabelSelectorError, matchesLabelSelector, parseLabelSelector } from '@vmo/shared/domain';

/**
 * A label selector typed in a list's filter box, read with the API's own parser (the one behind
 * `GET /v1/targets?selector=` and runs), so the list shows exactly what a run with that selector
 * would target among the rows shown. Empty matches everything.
 */
export type SelectorFilter = { match: (labels: Readonly<Record<string, string>>) => boolean; error?: undefined } | { error: string; match?: undefined };

export function compileSelector(text: string): SelectorFilter {
  if (text.trim() === '') return { match: () => true };
  try {
    const selector = parseLabelSelector(text);
    return { match: (labels) => matchesLabelSelector(selector, labels) };
  } catch (err) {
    if (err instanceof LabelSelectorError) return { error: `selector ${err.message}` };
    throw err;
  }
}
