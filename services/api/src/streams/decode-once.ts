import { JobChannelMessage, type SubscriberMessage } from '@vmo/shared/protocol';
import { STREAM_NAME } from '@vmo/shared/domain';

export interface DecodedChannelMessage {
  msg: JobChannelMessage;
  /** For output: each chunk already serialised as the subscriber frame, in the message's order. */
  frames: Buffer[];
}

let lastRaw: string | undefined;
let lastDecoded: DecodedChannelMessage | undefined;

/**
 * The channel hub hands the same message to every subscriber of a job, one after another, in
 * the same tick. Decode and serialise it once, not once per subscriber: with 1,000 subscribers the
 * per-subscriber JSON work was the API's main cost in the fan-out benchmark.
 */
export function decodeOnce(raw: string): DecodedChannelMessage | undefined {
  if (raw === lastRaw) return lastDecoded;
  let decoded: DecodedChannelMessage | undefined;
  try {
    const msg = JobChannelMessage.parse(JSON.parse(raw));
    const frames =
      msg.t === 'output'
        ? msg.chunks.map((ch) => Buffer.from(JSON.stringify({ type: 'output', seq: ch.seq, stream: STREAM_NAME[ch.stream]!, data: ch.data } satisfies SubscriberMessage)))
        : [];
    decoded = { msg, frames };
  } catch {
    decoded = undefined;
  }
  lastRaw = raw;
  lastDecoded = decoded;
  return decoded;
}
