import type { JobOutput } from '@vmo/shared/bus';
import { STREAM_NAME } from '@vmo/shared/domain';
import type { SubscriberMessage } from '@vmo/shared/protocol';

const built = new WeakMap<JobOutput, Buffer[]>();

/**
 * Each chunk of an output message as the subscriber frame, in the message's order. The bus hands
 * the same decoded message to every subscriber of the job, one after another: the frames are
 * serialised once, not once per subscriber (with 1,000 subscribers the per-subscriber JSON work
 * was the API's main cost in the fan-out benchmark).
 */
export function outputFrames(msg: JobOutput): Buffer[] {
  let frames = built.get(msg);
  if (!frames) {
    frames = msg.chunks.map((ch) => Buffer.from(JSON.stringify({ type: 'output', seq: ch.seq, stream: STREAM_NAME[ch.stream]!, data: ch.data.toString('base64') } satisfies SubscriberMessage)));
    built.set(msg, frames);
  }
  return frames;
}
