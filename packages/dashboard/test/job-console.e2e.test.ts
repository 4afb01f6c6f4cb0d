/**
 * Issue 13, the Job page and its live console in a real Chromium against the real stack (API,
 * worker, a real agent): output appears while the job runs; ANSI colours, "\r" progress bars and
 * UTF-8 split across chunks render as in a terminal (checked on the rendered cells, not the text);
 * stderr is marked; a reload replays then goes live without a duplicate; cancel shows `canceled`;
 * the download is exactly the stored bytes; an unknown id shows the API's 404 message.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestSystem } from '@vmo/testkit';
import { DashboardTab, launchChromium } from '@vmo/testkit/browser';
import { cellLook, consoleLines, waitForConsoleText } from './console-probe.ts';

const AGENT = 'console-agent';

/** A file the job waits for (`while [ ! -e … ]`): the test decides when the job goes on. */
function gate(): { path: string; wait: string; open(): void } {
  const path = `/tmp/vmo-console-${randomBytes(6).toString('hex')}`;
  return { path, wait: `while [ ! -e '${path}' ]; do sleep 0.1; done`, open: () => writeFileSync(path, '') };
}

describe('dashboard: the Job page and its live console', { timeout: 180_000 }, () => {
  let system: TestSystem;
  let browser: Browser;
  let base: string;
  const gates: string[] = [];

  const submit = (command: string) => system.client.vmo.jobs.submit({ command, target: { type: 'agent', agent: AGENT } });
  const newGate = () => {
    const g = gate();
    gates.push(g.path);
    return g;
  };

  beforeAll(async () => {
    [system, browser] = await Promise.all([TestSystem.start({ label: 'dash_console' }), launchChromium()]);
    base = system.apiUrls[0]!;
    await system.startAgent(AGENT);
  }, 180_000);
  afterAll(async () => {
    for (const g of gates) if (!existsSync(g)) writeFileSync(g, ''); // no job shell left waiting
    await browser?.close();
    await system?.stop();
    for (const g of gates) rmSync(g, { force: true });
  });

  it('shows output live, in colour, with "\\r" progress as one line, UTF-8 split across chunks whole, and stderr on its band', async () => {
    const g = newGate();
    const job = await submit(
      [
        String.raw`printf '\033[31mred\033[0m plain\n'`,
        // Two pipes: the order between them is the order they were read in, so pauses keep it.
        'sleep 0.3; echo oops >&2; sleep 0.3',
        // é (c3 a9) and € (e2 82 ac), each cut in two by a pause: separate chunks.
        String.raw`printf 'caf\303'; sleep 0.6; printf '\251 \342'; sleep 0.6; printf '\202\254 end\n'`,
        String.raw`for i in 1 2 3 4 5; do printf '\rprogress %d/5' "$i"; sleep 0.1; done; printf '\n'`,
        g.wait,
        'echo after the gate',
      ].join('\n'),
    );
    const tab = await DashboardTab.open(browser, base, { token: system.token });
    try {
      await tab.goto(`/jobs/${job.id}`);
      await waitForConsoleText(tab.page, 'progress 5/5');
      // Live: on screen while the job still runs (it waits for the gate).
      expect((await system.client.vmo.jobs.get(job.id)).status).toBe('running');
      await tab.page.locator('[data-fact="status"] [data-status="running"]').waitFor();
      // "\n" alone starts a line at column 0 (convertEol); "\r" redrew one line.
      expect(await consoleLines(tab.page)).toEqual(['red plain', 'oops', 'café € end', 'progress 5/5']);

      const red = await cellLook(tab.page, 'red');
      expect(red).toMatchObject({ fgMode: 'palette', fg: 1, spanColor: 'rgb(255, 123, 114)' }); // the theme's red, as drawn
      const plain = await cellLook(tab.page, 'plain');
      expect(plain).toMatchObject({ fgMode: 'default', bgMode: 'default' });
      const oops = await cellLook(tab.page, 'oops');
      expect(oops).toMatchObject({ fgMode: 'rgb', fg: 0xffb4a1, bgMode: 'rgb', bg: 0x3a1d1d, spanBackground: 'rgb(58, 29, 29)' });
      await tab.screenshot('job-console-running');

      // The split really was across chunks: the stored chunk ends in é's first byte.
      const chunks = await system.client.vmo.jobs.logChunks(job.id);
      expect(chunks.some((c) => Buffer.from(c.data, 'base64').at(-1) === 0xc3)).toBe(true);

      g.open();
      await waitForConsoleText(tab.page, 'after the gate');
      await tab.page.locator('[data-fact="status"] [data-status="succeeded"]').waitFor();
      await tab.page.locator('[data-fact="exit-code"]', { hasText: '0' }).waitFor();
      expect(await consoleLines(tab.page)).toEqual(['red plain', 'oops', 'café € end', 'progress 5/5', 'after the gate']);
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
  });
});
