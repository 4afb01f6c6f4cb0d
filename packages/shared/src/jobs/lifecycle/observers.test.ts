import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { JobTransition } from './observers.ts';
import { notifyObservers, onTransitionOnce } from './observers.ts';

const log = pino({ level: 'silent' });
const transition = { job: { id: 'job_once' }, from: 'queued', to: 'running', kind: 'transition' } as unknown as JobTransition;

describe('onTransitionOnce: one observer per key per process, ref-counted', () => {
  it('tells the earliest registration still there, once per transition; goes with the last disposer', async () => {
    const told: string[] = [];
    const stopFirst = onTransitionOnce('test-once', () => void told.push('first'));
    const stopSecond = onTransitionOnce('test-once', () => void told.push('second'));
    await notifyObservers(transition, log);
    expect(told).toEqual(['first']);

    // The first service stopped: the second one's observer (its own logger) takes over.
    stopFirst();
    stopFirst(); // idempotent: does not remove the second
    await notifyObservers(transition, log);
    expect(told).toEqual(['first', 'second']);

    stopSecond();
    await notifyObservers(transition, log);
    expect(told).toEqual(['first', 'second']);

    // Registered again after the last went: observed again, once.
    const stopAgain = onTransitionOnce('test-once', () => void told.push('again'));
    await notifyObservers(transition, log);
    expect(told).toEqual(['first', 'second', 'again']);
    stopAgain();
  });

  it('keys are apart: another key is observed too', async () => {
    const told: string[] = [];
    const stops = [onTransitionOnce('test-a', () => void told.push('a')), onTransitionOnce('test-b', () => void told.push('b'))];
    await notifyObservers(transition, log);
    expect(told.sort()).toEqual(['a', 'b']);
    stops.forEach((s) => s());
  });
});
