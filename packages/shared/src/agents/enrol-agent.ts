import { AppError } from '../errors/app-error.ts';
import { pgErrorCode, UNIQUE_VIOLATION } from '../db/pg-error-code.ts';
import { newId } from '../domain/ids.ts';
import { generateToken, hashToken } from '../tokens.ts';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import type { EnrolInput } from './enrol-input.ts';
import { enrolmentRefusal, enrolmentTokenFromSql, type EnrolmentTokenSqlRow } from './enrolment-tokens.ts';
import { markChanged } from '../bus/change-notifier.ts';

export interface EnrolledAgent {
  agentId: string;
  name: string;
  labels: Record<string, string>;
  /** The new agent's own token (vmo_agt_…): answered once, stored only as its hash. */
  token: string;
  /**
   * True when this answers again an enrolment whose answer was lost (same enrolment token, name
   * and nonce): the same agent, a new token, no use counted. Not part of the answer's body.
   */
  again: boolean;
}

/**
 * Exchange an enrolment token for a new agent with its own token (POST /v1/agent/enrol). The
 * agent gets the enrolment token's labels; its name must be free among live agents.
 *
 * LOUD: the use is counted by ONE conditional UPDATE (`uses < max_uses`, not expired, not revoked)
 * in the same transaction as the agent's INSERT. Concurrent enrolments queue on the token's row
 * lock (taken first, FOR UPDATE) and each re-checks the condition against the committed count, so
 * no more than `max_uses` agents are ever created; a refused name rolls the use back, so a
 * refusal creates nothing and costs nothing.
 *
 * A lost answer (the connection cut after the COMMIT) would leave the agent's retry a 409 on its
 * own name, the machine stuck. So the agent sends a nonce it keeps in its state dir, and the
 * agent's row keeps its sha256 and the enrolment token's id. A retry with the same enrolment
 * token, name and nonce, for an agent that has never connected (had it, it got its token), gets
 * that agent a new token: the one nobody saw stops working at once (rotated, as
 * rotate-agent-token does), no use is counted (a one-use token still answers its own retry), and
 * the labels are the agent's. The enrolment token must still be neither revoked nor expired. A
 * different nonce (another machine of the same name), or none, is the 409 as before. Because the
 * token's row lock comes first, a retry racing the first attempt waits for it and then finds its
 * agent.
 */
export async function enrolAgent(cp: ControlPlane, enrolmentToken: string, input: EnrolInput): Promise<EnrolledAgent> {
  const hash = hashToken(enrolmentToken);
  const token = generateToken('agent');
  const nonceHash = input.nonce === undefined ? null : hashToken(input.nonce);
  try {
    const enrolled = await cp.database.sql.begin(async (tx): Promise<EnrolledAgent> => {
      const [locked] = await tx<{ id: string; live: boolean }[]>`
        select id, (revoked_at is null and expires_at > now()) as live from enrolment_tokens where token_hash = ${hash} for update`;
      if (locked?.live && nonceHash !== null) {
        const [again] = await tx<{ id: string; labels: Record<string, string> }[]>`
          update agents set token_hash = ${hashToken(token)}
          where name = ${input.name} and revoked_at is null and last_seen_at is null
            and enrolment_token_id = ${locked.id} and enrol_nonce_hash = ${nonceHash}
          returning id, labels`;
        if (again) return { agentId: again.id, name: input.name, labels: again.labels, token, again: true };
      }
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
        insert into agents (id, name, token_hash, labels, enrolment_token_id, enrol_nonce_hash)
        values (${newId('agt')}, ${input.name}, ${hashToken(token)}, ${JSON.stringify(used.labels)}::jsonb, ${used.id}, ${nonceHash})
        returning id`;
      return { agentId: agent!.id, name: input.name, labels: used.labels, token, again: false };
    });
    markChanged(cp, 'agents'); // dashboards (BUS.md §10), after the commit
    return enrolled;
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
