import { z } from 'zod';

/**
 * What a dashboard may be told has changed (BUS.md §10): the pages it refetches when told. No ids
 * and no data travel with a topic: the page reads again through REST, where access rules apply.
 * Imports nothing but zod, so the API contracts (which browsers load) take the list from here.
 */
export const CHANGE_TOPICS = ['jobs', 'runs', 'agents', 'hosts'] as const;
export type ChangeTopic = (typeof CHANGE_TOPICS)[number];

export const isChangeTopic = (topic: string): topic is ChangeTopic => (CHANGE_TOPICS as readonly string[]).includes(topic);

/**
 * BUS.md §10, on `changes`: something of these kinds changed, coalesced by the publisher (one
 * message per process per interval at most). Topics are plain strings on the wire: a topic added
 * later within v1 is ignored by an older receiver (which keeps the ones it knows), not a reason to
 * drop the whole message.
 */
export const ChangesMessage = z.discriminatedUnion('type', [
  z.object({ v: z.literal(1), type: z.literal('changed'), topics: z.array(z.string().min(1).max(64)).min(1).max(64) }),
]);
export type ChangesMessage = z.infer<typeof ChangesMessage>;
