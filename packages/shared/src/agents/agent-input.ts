import { z } from 'zod';
import { LabelsInput } from '../domain/labels.ts';

export const AgentInput = z
  .object({
    name: z
      .string({ error: 'is required and must be a string' })
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'must be 1-63 letters, digits, "_", "." or "-", starting with a letter or digit'),
    labels: LabelsInput.default({}),
  })
  .strict();
export type AgentInput = z.infer<typeof AgentInput>;
