import { unstorableReason } from './unstorable-reason.ts';

// The label rule (labels.ts, LabelsInput) without zod, for the bundled agent's --labels: it must
// refuse at start exactly what the server's LabelsInput would refuse in its hello (1008, then a
// reconnect loop). labels-check.test.ts holds the two together over a corpus.

export const LABEL_KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.\/-]{0,62}$/;
export const LABEL_KEY_RULE = 'label keys are 1-63 letters, digits, "_", ".", "/" or "-"';
export const LABEL_VALUE_MAX = 255;
export const LABEL_VALUE_RULE = 'label values are at most 255 characters';
export const MAX_LABELS = 64;
export const MAX_LABELS_RULE = 'at most 64 labels';

/** The first way `labels` breaks the rule (`key`: the label it concerns), or undefined. */
export function labelsProblem(labels: Record<string, string>): { key?: string; message: string } | undefined {
  for (const [key, value] of Object.entries(labels)) {
    if (!LABEL_KEY_PATTERN.test(key)) return { key, message: LABEL_KEY_RULE };
    if (value.length > LABEL_VALUE_MAX) return { key, message: LABEL_VALUE_RULE };
    const reason = unstorableReason(value);
    if (reason) return { key, message: `label values ${reason}` };
  }
  if (Object.keys(labels).length > MAX_LABELS) return { message: MAX_LABELS_RULE };
  return undefined;
}
