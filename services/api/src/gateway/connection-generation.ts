import type { Keys, RedisClient } from '@vmo/shared/redis';

/**
 * How long the agent's last generation is kept past its last connection. Only a guard against
 * Redis' clock stepping back (see the script): a day is far beyond any clock correction.
 */
const GENERATION_KEEP_MS = 24 * 60 * 60 * 1000;

/**
 * KEYS[1] the agent's last generation; ARGV[1] how long to keep it. The Redis server's time in
 * microseconds, or one more than the agent's last generation if that is not below it. Not a bare
 * INCR: a counter that Redis loses (a restart without persistence, a failover to a replica that
 * had not received it) would start again at 1 while connections numbered 57 are still open, and
 * those would then win over every new one. The time does not go back with the data; the kept
 * value covers two connections in one microsecond and a clock stepped back. Returned as a string
 * (16 digits: exact in a double, as in Lua).
 */
const NEXT_GENERATION_LUA = `local t = redis.call('TIME')
local generation = tonumber(t[1]) * 1000000 + tonumber(t[2])
local last = redis.call('GET', KEYS[1])
if last and tonumber(last) and tonumber(last) >= generation then generation = tonumber(last) + 1 end
local text = string.format('%.0f', generation)
redis.call('SET', KEYS[1], text, 'PX', ARGV[1])
return text`;

/**
 * PROTOCOL.md §1.4: the creation order of a new connection among its agent's connections, on
 * every node. Taken when the socket is upgraded, alongside the SUBSCRIBE of the agent's channel
 * (the handshake's first round trip, waited for by `hello` anyway): no round trip of its own.
 *
 * LOUD: every decision between two connections of one agent follows it, and only it: which one's
 * presence stands (presence-writer.ts), which one a takeover closes (agent-session.ts). Judged by
 * anything else (arrival of the takeover, a node's clock), a late takeover of a connection the
 * agent has given up on closes the one it is using, and its late presence write shows it offline.
 */
export async function nextConnectionGeneration(redis: RedisClient, keys: Keys, agentId: string): Promise<number> {
  const generation = Number(await redis.eval(NEXT_GENERATION_LUA, 1, keys.agentConnectionGeneration(agentId), GENERATION_KEEP_MS));
  if (!Number.isSafeInteger(generation) || generation <= 0) throw new Error(`Redis answered a connection generation that is not a positive integer: ${generation}`);
  return generation;
}
