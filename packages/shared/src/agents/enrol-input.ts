import { z } from 'zod';
import { AgentInput } from './agent-input.ts';

/**
 * Body of POST /v1/agent/enrol, sent by `vmo-agent --enrol`: the name the new agent takes (its
 * hostname unless --name says otherwise), under the rule of a registered agent's name. The labels
 * come from the enrolment token, never from the machine: a token holder cannot choose its labels
 * (and with them which policies' jobs it is sent).
 */
export const EnrolInput = z.object({ name: AgentInput.shape.name }).strict();
export type EnrolInput = z.infer<typeof EnrolInput>;
