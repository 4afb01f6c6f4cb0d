import { z } from 'zod';
import { AgentInput } from './agent-input.ts';

/**
 * The nonce `vmo-agent --enrol` makes once per state dir, before its first attempt: at least 128
 * random bits, base64url. It makes a retry whose earlier answer was lost recognisable as the same
 * machine (agents/enrol-agent.ts); the server keeps only its sha256.
 */
export const EnrolNonce = z
  .string({ error: 'must be a string' })
  .regex(/^[A-Za-z0-9_-]{22,128}$/, 'must be 22-128 base64url characters (at least 128 random bits)');

/**
 * Body of POST /v1/agent/enrol, sent by `vmo-agent --enrol`: the name the new agent takes (its
 * hostname unless --name says otherwise), under the rule of a registered agent's name, and the
 * agent's enrolment nonce (optional: without it a retry of a lost answer is a 409). The labels
 * come from the enrolment token, never from the machine: a token holder cannot choose its labels
 * (and with them which policies' jobs it is sent).
 */
export const EnrolInput = z.object({ name: AgentInput.shape.name, nonce: EnrolNonce.optional() }).strict();
export type EnrolInput = z.infer<typeof EnrolInput>;
