import { AppError } from '../errors/app-error.ts';
import { pgErrorCode, UNIQUE_VIOLATION } from '../db/pg-error-code.ts';
import { newId } from '../domain/ids.ts';
import { generateToken, hashToken } from '../tokens.ts';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import type { EnrolInput } from './enrol-input.ts';
import { enrolmentRefusal, enrolmentTokenFromSql, type EnrolmentTokenSqlRow } from './enrolment-tokens.ts';

export interface EnrolledAgent {
  agentId: string;
  name: string;
  labels: Record<string, string>;
  /** The new agent's own token (vmo_agt_…): answered once, stored only as its hash. */
  token: string;
}

/**
 * Exchange an enrolment token for a new agent with its own token (POST /v1/agent/enrol). The
 * agent gets the enrolment token's labels; its name must be free among live agents.
 *
 * LOUD: the use is counted by ONE conditional UPDATE (`uses < max_uses`, not expired, not revoked)
 * in the same transaction as the agent's INSERT. Concurrent enrolments queue on the token's row
 * lock and each re-checks the condition against the committed count, so no more than `max_uses`
 * agents are ever created; a refused name rolls the use back, so a refusal creates nothing and
 * costs nothing.
 */
export async function enrolAgent(cp: ControlPlane, enrolmentToken: string, input: EnrolInput): Promise<EnrolledAgent> {
  const hash = hashToken(enrolmentToken);
  const token = generateToken('agent');
  try {
    return await cp.database.sql.begin(async (tx) => {
      const [used] = await tx<{ id: string; labels: Record<string, string> }[]>`
        update enrolment_tokens set uses = uses + 1
        where token_hash = ${hash}
          and revoked_at is null
          and expires_at > now()
          and (max_uses is null or uses < max_uses)
        returning id, labels`;
      if (!used) {
        const [row] = await tx<EnrolmentTokenSqlRow[]>`select * from enrolment_tokens where token_hash = ${hash}`;
        throw enrolmentRefusal(row && enrolmentTokenFromSql(row));
      }
      const [agent] = await tx<{ id: string }[]>`
        insert into agents (id, name, token_hash, labels)
        values (${newId('agt')}, ${input.name}, ${hashToken(token)}, ${JSON.stringify(used.labels)}::jsonb)
        returning id`;
      return { agentId: agent!.id, name: input.name, labels: used.labels, token };
    });
  } catch (err) {
    if (pgErrorCode(err) === UNIQUE_VIOLATION) {
      throw new AppError(
        409,
        'name_taken',
        `name: an agent named ${JSON.stringify(input.name)} already exists; start this agent with another --name, or revoke the old one (DELETE /v1/agents/${input.name}) if this machine replaces it`,
      );
    }
    throw err;
  }
}
