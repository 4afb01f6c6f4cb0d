import { bodyLimit } from 'hono/body-limit';
import { payloadTooLarge } from '@vmo/shared/errors';

/** 413 for bodies over `maxSize`, whether they declare a length or arrive chunked. */
export const limitBody = (maxSize: number) =>
  bodyLimit({
    maxSize,
    onError: () => {
      throw payloadTooLarge(maxSize);
    },
  });
