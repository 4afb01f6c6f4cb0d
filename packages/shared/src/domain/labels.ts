import { z } from 'zod';
import { storableText } from './storable-text.ts';

/** Labels on jobs, agents (registered and reported) and hosts: one rule everywhere. */
export const LabelsInput = z
  .record(
    z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.\/-]{0,62}$/, 'label keys are 1-63 letters, digits, "_", ".", "/" or "-"'),
    storableText(z.string().max(255, 'label values are at most 255 characters'), 'label values'),
  )
  .refine((l) => Object.keys(l).length <= 64, 'at most 64 labels');
