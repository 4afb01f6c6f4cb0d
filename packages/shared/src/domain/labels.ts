import { z } from 'zod';
import { storableText } from './storable-text.ts';
import { LABEL_KEY_PATTERN, LABEL_KEY_RULE, LABEL_VALUE_MAX, LABEL_VALUE_RULE, MAX_LABELS, MAX_LABELS_RULE } from './labels-check.ts';

/** Labels on jobs, agents (registered and reported) and hosts: one rule everywhere. */
export const LabelsInput = z
  .record(
    z.string().regex(LABEL_KEY_PATTERN, LABEL_KEY_RULE),
    storableText(z.string().max(LABEL_VALUE_MAX, LABEL_VALUE_RULE), 'label values'),
  )
  .refine((l) => Object.keys(l).length <= MAX_LABELS, MAX_LABELS_RULE);
