import type { JobOutput } from '@vmo/shared/bus';
import { STREAM_NAME } from '@vmo/shared/domain';

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
    frames = msg.chunks.map((ch) => outputFrame(ch.seq, ch.stream, ch.data));
    built.set(msg, frames);
  }
  return frames;
}

/**
 * One chunk as the subscriber's `output` frame (SubscriberMessage `{type:'output', seq, stream,
 * data}`, data in base64), the JSON text as bytes. Written
 * around the base64 rather than through JSON.stringify: base64 needs no escaping, and stringify
 * scanned it and then UTF-8-encoded it again, per chunk (issue 16: the frames were ~8 % of the
 * API's busy time in the output benchmark).
 */
export function outputFrame(seq: number, stream: 1 | 2, data: Buffer): Buffer {
  const head = `{"type":"output","seq":${seq},"stream":"${STREAM_NAME[stream]!}","data":"`;
  const b64 = data.toString('base64');
  const frame = Buffer.allocUnsafe(head.length + b64.length + 2);
  let at = frame.write(head, 0, 'latin1');
  at += frame.write(b64, at, 'latin1');
  frame.write('"}', at, 'latin1');
  return frame;
}
