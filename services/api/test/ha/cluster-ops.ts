import { waitFor, type RedisClusterSet, type RedisNode } from '@vmo/testkit';

/**
 * What an operator does to a Redis Cluster while vmo runs on it (issue 19), on the testkit's
 * RedisClusterSet: a graceful `CLUSTER FAILOVER`, one slot moved to another master key by key
 * (what `redis-cli --cluster reshard` does: SETSLOT IMPORTING/MIGRATING, MIGRATE, SETSLOT NODE),
 * and finding the node a pub/sub subscription lives on.
 */

const nodeId = (node: RedisNode): Promise<string> => node.ask((r) => r.cluster('MYID') as Promise<string>);

/** The replica of `master` (each master has one in RedisClusterSet). */
export async function replicaOf(set: RedisClusterSet, master: RedisNode): Promise<RedisNode> {
  const id = await nodeId(master);
  const lines = (await master.ask((r) => r.call('CLUSTER', 'REPLICAS', id))) as string[];
  const port = Number(/127\.0\.0\.1:(\d+)@/.exec(lines[0] ?? '')?.[1]);
  const replica = set.nodes.find((n) => n.port === port);
  if (!replica) throw new Error(`no replica of ${master.address}: ${lines.join(' | ')}`);
  return replica;
}

/** Every node agrees the cluster is ok. */
export async function waitForClusterOk(set: RedisClusterSet, timeoutMs = 30_000): Promise<void> {
  await waitFor('cluster_state:ok on every live node', async () => {
    for (const node of set.nodes.filter((n) => n.alive)) {
      if (!/cluster_state:ok/.test(await node.ask((r) => r.cluster('INFO')))) return false;
    }
    return true;
  }, timeoutMs, 100);
}

/**
 * `CLUSTER FAILOVER` on the replica of the master owning `key`'s slot: the master stops taking
 * writes, the replica catches up and takes over (nothing lost), the old master becomes its replica.
 */
export async function gracefulFailover(set: RedisClusterSet, key: string, timeoutMs = 30_000): Promise<{ from: RedisNode; to: RedisNode }> {
  const from = await set.masterOf(key);
  const to = await replicaOf(set, from);
  await to.ask((r) => r.cluster('FAILOVER'));
  await set.waitForFailover(key, from.port, timeoutMs);
  await waitForClusterOk(set, timeoutMs);
  return { from, to };
}

/**
 * Move `key`'s slot (every key in it: BullMQ's `{prefix}` keys move together) from its master to
 * another master, a few keys per MIGRATE with a pause between, so the load meets the slot half
 * moved (ASK redirections, TRYAGAIN for a multi-key command whose keys are split) for a while.
 */
export async function reshardSlotOf(set: RedisClusterSet, key: string, opts: { keysPerStep?: number; pauseMs?: number } = {}): Promise<{ from: RedisNode; to: RedisNode; keysMoved: number; ms: number; redirections: Record<string, number> }> {
  const started = Date.now();
  const from = await set.masterOf(key);
  const slot = await from.ask((r) => r.cluster('KEYSLOT', key));
  const masters = await mastersOf(set);
  const to = masters.find((m) => m.port !== from.port)!;
  const [fromId, toId] = [await nodeId(from), await nodeId(to)];
  await to.ask((r) => r.cluster('SETSLOT', slot, 'IMPORTING', fromId));
  await from.ask((r) => r.cluster('SETSLOT', slot, 'MIGRATING', toId));
  let keysMoved = 0;
  for (;;) {
    const batch = (await from.ask((r) => r.cluster('GETKEYSINSLOT', slot, opts.keysPerStep ?? 5))) as string[];
    if (batch.length === 0) break;
    await from.ask((r) => r.call('MIGRATE', '127.0.0.1', String(to.port), '', '0', '5000', 'REPLACE', 'KEYS', ...batch));
    keysMoved += batch.length;
    await new Promise((r) => setTimeout(r, opts.pauseMs ?? 20));
  }
  // What the clients met while the slot was half moved (Redis counts ASK and TRYAGAIN replies).
  const redirections = Object.fromEntries(
    [...(await from.ask((r) => r.info('errorstats'))).matchAll(/errorstat_(ASK|TRYAGAIN|MOVED):count=(\d+)/g)].map((m) => [m[1]!, Number(m[2])]),
  );
  // The new owner first (it then answers the slot's commands itself), then the old, then the rest.
  await to.ask((r) => r.cluster('SETSLOT', slot, 'NODE', toId));
  await from.ask((r) => r.cluster('SETSLOT', slot, 'NODE', toId));
  for (const m of masters.filter((n) => n.port !== from.port && n.port !== to.port)) await m.ask((r) => r.cluster('SETSLOT', slot, 'NODE', toId));
  await waitFor(`slot ${slot} owned by ${to.address} everywhere`, async () => (await set.masterOf(key)).port === to.port, 30_000, 100);
  return { from, to, keysMoved, ms: Date.now() - started, redirections };
}

export async function mastersOf(set: RedisClusterSet): Promise<RedisNode[]> {
  const out: RedisNode[] = [];
  for (const node of set.nodes.filter((n) => n.alive)) {
    const role = (await node.ask((r) => r.call('ROLE'))) as [string];
    if (role[0] === 'master') out.push(node);
  }
  return out;
}

/** The live node holding a (non-sharded) subscription to `channel`: PUBSUB CHANNELS is per node in a Cluster. */
export async function nodeSubscribedTo(set: RedisClusterSet, channel: string): Promise<RedisNode> {
  return waitFor(`the node subscribed to ${channel}`, async () => {
    for (const node of set.nodes.filter((n) => n.alive)) {
      const channels = (await node.ask((r) => r.pubsub('CHANNELS', channel))) as string[];
      if (channels.includes(channel)) return node;
    }
    return undefined;
  }, 20_000, 100);
}
