/**
 * Issue 13, the Job page and its live console in a real Chromium against the real stack (API,
 * worker, a real agent): output appears while the job runs; ANSI colours, "\r" progress bars and
 * UTF-8 split across chunks render as in a terminal (checked on the rendered cells, not the text);
 * stderr is marked; a reload replays then goes live without a duplicate; the console scrolls by
 * keyboard; cancel shows `canceled`; the download is exactly the stored bytes; an unknown id shows
 * the API's 404 message; screenshots at 1280 and 390 px. The load check (clicks answered within
 * 200 ms and a bounded heap while 10 MB/s go through the console) measures, so it runs alone after
 * the suite: job-console-load.measured.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TcpProxy, TestSystem, waitFor } from '@vmo/testkit';
import { DashboardTab, launchChromium } from '@vmo/testkit/browser';
import { cellLook, consoleLines, consoleStats, waitForConsoleText } from './console-probe.ts';

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
    [system, browser] = await Promise.all([
      // A secret key, so a job can carry secretEnv (the page shows its names only).
      TestSystem.start({
        label: 'dash_console',
        env: { VMO_SECRET_KEY: randomBytes(32).toString('hex') },
      }),
      launchChromium(),
    ]);
    base = system.apiUrls[0]!;
    await system.startAgent(AGENT, { labels: { team: 'console' } });
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

  it('a reload in the middle of a job replays what was stored, then goes on live, with no line twice', async () => {
    const g = newGate();
    const job = await submit(`for i in $(seq 1 40); do echo "line $i"; done; ${g.wait}; for i in $(seq 41 80); do echo "line $i"; sleep 0.01; done`);
    const numbered = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `line ${from + i}`);
    const tab = await DashboardTab.open(browser, base, { token: system.token });
    try {
      await tab.goto(`/jobs/${job.id}`);
      await waitForConsoleText(tab.page, 'line 40');
      await tab.page.reload();
      await waitForConsoleText(tab.page, 'line 40');
      expect(await consoleLines(tab.page)).toEqual(numbered(1, 40));
      g.open();
      await waitForConsoleText(tab.page, 'line 80');
      await tab.page.locator('[data-fact="status"] [data-status="succeeded"]').waitFor();
      expect(await consoleLines(tab.page)).toEqual(numbered(1, 80));

      // By keyboard: in the console, Page Up scrolls back (and pauses following), End returns.
      const follow = tab.page.locator('.job-console .follow');
      expect(await follow.getAttribute('aria-pressed')).toBe('true');
      await tab.page.locator('.job-console .xterm-helper-textarea').focus();
      await tab.page.keyboard.press('PageUp');
      await tab.page.locator('.job-console .follow[aria-pressed="false"]').waitFor();
      await tab.page.keyboard.press('End');
      await tab.page.locator('.job-console .follow[aria-pressed="true"]').waitFor();
      // Tab leaves the console (it takes no input, so it traps no key).
      await tab.page.keyboard.press('Tab');
      expect(await tab.page.evaluate(() => document.activeElement?.classList.contains('xterm-helper-textarea'))).toBe(false);
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
  });

  it('cancels a running job after asking, and the status turns canceled on screen; a viewer sees no Cancel', async () => {
    const job = await submit('echo started; sleep 600');
    const tab = await DashboardTab.open(browser, base, { token: system.token });
    try {
      await tab.goto(`/jobs/${job.id}`);
      await waitForConsoleText(tab.page, 'started');
      await tab.page.getByRole('button', { name: 'Cancel', exact: true }).click();
      const dialog = tab.page.getByRole('alertdialog');
      await dialog.getByText('Cancel this job?').waitFor();
      await dialog.getByRole('button', { name: 'Cancel job' }).click();
      await tab.page.locator('[data-fact="status"] [data-status="canceled"]').waitFor();
      await tab.page.locator('.head [data-status="canceled"]').waitFor();
      await tab.page.locator('.job-console .state[data-state="ended"]').waitFor();
      expect(await tab.page.getByRole('button', { name: 'Cancel', exact: true }).count()).toBe(0);
      expect(await tab.page.locator('[data-fact="signal"]').textContent()).toBe('SIGTERM');
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }

    // A viewer who may read the agent's jobs sees the job, but neither Cancel nor Run again.
    await system.client.vmo.users.create({ name: 'vic', role: 'viewer' });
    await system.client.vmo.policies.create({ name: 'vic-reads-console', subjects: { users: ['vic'] }, actions: ['read'], targets: 'team=console' });
    const { token } = await system.client.vmo.tokens.create({ name: 'vic-dash', user: 'vic' });
    const running = await submit('echo still going; sleep 600');
    const viewer = await DashboardTab.open(browser, base, { token });
    try {
      await viewer.goto(`/jobs/${running.id}`);
      await waitForConsoleText(viewer.page, 'still going');
      await viewer.page.getByRole('button', { name: 'Download raw output' }).waitFor();
      expect(await viewer.page.getByRole('button', { name: 'Cancel', exact: true }).count()).toBe(0);
      expect(await viewer.page.getByRole('link', { name: 'Run again' }).count()).toBe(0);
      viewer.expectNoConsoleErrors();
    } finally {
      await viewer.close();
      await system.client.vmo.jobs.cancel(running.id);
    }
  });

  it('downloads exactly the stored bytes; shows env (secrets by name only), labels and a Run again link that carries all but the secrets', async () => {
    const secret = `s3cr3t-${randomBytes(8).toString('hex')}`;
    const job = await system.client.vmo.jobs.submit({
      command: String.raw`printf 'bytes \303\251 \000\001\377\n'; seq 1 30000; sleep 0.3; echo to-stderr >&2`,
      target: { type: 'agent', agent: AGENT },
      env: { GREETING: 'hello world' },
      secretEnv: { DEPLOY_TOKEN: secret },
      labels: { team: 'console', purpose: 'download' },
      cwd: '/tmp',
      timeoutMs: 90_000,
    });
    await system.client.waitForEnd(job.id);
    const expected = Buffer.concat([
      Buffer.from('bytes \xc3\xa9 \x00\x01\xff\n', 'latin1'),
      Buffer.from(Array.from({ length: 30000 }, (_, i) => `${i + 1}\n`).join('')),
      Buffer.from('to-stderr\n'),
    ]);
    expect((await system.client.logs(job.id)).equals(expected)).toBe(true);

    const tab = await DashboardTab.open(browser, base, { token: system.token });
    try {
      await tab.goto(`/jobs/${job.id}`);
      await waitForConsoleText(tab.page, 'to-stderr');
      const [download] = await Promise.all([tab.page.waitForEvent('download'), tab.page.getByRole('button', { name: 'Download raw output' }).click()]);
      expect(download.suggestedFilename()).toBe(`${job.id}.log`);
      expect(readFileSync((await download.path())!).equals(expected)).toBe(true);

      await tab.page.getByRole('cell', { name: 'GREETING' }).waitFor();
      await tab.page.getByRole('cell', { name: 'hello world' }).waitFor();
      await tab.page.locator('[data-secret="DEPLOY_TOKEN"]', { hasText: 'value never shown' }).waitFor();
      expect(await tab.page.content()).not.toContain(secret);
      await tab.page.getByText('purpose=download').waitFor();
      const again = await tab.page.getByRole('link', { name: 'Run again' }).getAttribute('href');
      const url = new URL(again!, base);
      expect(url.pathname).toBe('/jobs/new');
      expect(url.searchParams.get('command')).toBe(job.command);
      expect(url.searchParams.get('target')).toBe(`agent:${AGENT}`);
      expect(again).not.toContain('DEPLOY_TOKEN');

      // The form it opens: everything the job had but its secret env (asked for again, never in a URL).
      await tab.page.getByRole('link', { name: 'Run again' }).click();
      await tab.page.getByRole('heading', { name: 'New job', level: 1 }).waitFor();
      expect(await tab.page.getByLabel('Command').inputValue()).toBe(job.command);
      expect(await tab.page.getByLabel('Agent name').inputValue()).toBe(AGENT);
      expect(await tab.page.getByLabel('Working directory').inputValue()).toBe('/tmp');
      expect([await tab.page.getByLabel('Timeout', { exact: true }).inputValue(), await tab.page.getByLabel('Timeout unit').inputValue()]).toEqual(['90', 's']);
      expect([await tab.page.getByLabel('Variable 1 name').inputValue(), await tab.page.getByLabel('Variable 1 value').inputValue()]).toEqual(['GREETING', 'hello world']);
      expect(await tab.page.getByLabel('Variable 2 name').count()).toBe(0);
      const labels = await Promise.all([1, 2].map(async (n) => `${await tab.page.getByLabel(`Label ${n} name`).inputValue()}=${await tab.page.getByLabel(`Label ${n} value`).inputValue()}`));
      expect(labels.sort()).toEqual(['purpose=download', 'team=console']);
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
  });

  it('reads well at 1280 and 390 px wide, light and dark (screenshots; the README shows job-console)', async () => {
    const job = await system.client.vmo.jobs.submit({
      command: [
        String.raw`printf '\033[1m==> Deploying web-frontend v2.14.0 to prod\033[0m\n'`,
        String.raw`for step in 'Fetching artifacts' 'Verifying checksums' 'Stopping the old release'; do printf '\033[36m-->\033[0m %s\n' "$step"; sleep 0.05; done`,
        String.raw`bar=''; for i in $(seq 1 25); do bar="$bar#"; printf '\r    uploading  [%-25s] %3d%%' "$bar" $((i*4)); sleep 0.02; done; printf '\n'`,
        `echo 'warning: config key "cache.ttl" is deprecated, use "cache.maxAge"' >&2`,
        'sleep 0.3',
        String.raw`printf '\033[32m✔\033[0m health check passed (3/3 instances)\n'`,
        String.raw`printf '\033[33m!\033[0m 1 warning   \033[31m✘\033[0m 0 errors\n'`,
        String.raw`printf 'Done in \033[1m4.2s\033[0m\n'`,
      ].join('\n'),
      target: { type: 'agent', agent: AGENT },
      env: { RELEASE: 'v2.14.0', REGION: 'eu-west-1' },
      secretEnv: { DEPLOY_TOKEN: 'not-shown' },
      labels: { app: 'web-frontend', env: 'prod' },
    });
    await system.client.waitForEnd(job.id);
    for (const [name, opts] of [
      ['job-console', { viewport: { width: 1280, height: 860 } }],
      ['job-console-390', { viewport: { width: 390, height: 844 } }],
      ['job-console-dark', { viewport: { width: 1280, height: 860 }, colorScheme: 'dark' as const }],
    ] as const) {
      const tab = await DashboardTab.open(browser, base, { token: system.token, ...opts });
      try {
        await tab.goto(`/jobs/${job.id}`);
        await waitForConsoleText(tab.page, 'Done in 4.2s');
        await tab.page.locator('[data-fact="exit-code"]', { hasText: '0' }).waitFor();
        if (name === 'job-console-390') {
          // Nothing wider than the phone: no sideways scrolling of the page.
          expect(await tab.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
          expect((await consoleLines(tab.page)).join('\n')).toContain('uploading');
        }
        await tab.screenshot(name);
        tab.expectNoConsoleErrors();
      } finally {
        await tab.close();
      }
    }
  });

  it("an unknown job id shows the API's 404 message", async () => {
    const missing = 'job_00000000000000000000';
    const answer = await system.client.request('GET', `/v1/jobs/${missing}`);
    expect(answer.status).toBe(404);
    const tab = await DashboardTab.open(browser, base, { token: system.token });
    tab.allowConsoleErrors(new RegExp(`status of 404 .*/v1/jobs/${missing}\\)$`)); // Chromium logs the 404 answer itself
    try {
      await tab.goto(`/jobs/${missing}`);
      const alert = tab.page.getByRole('alert');
      await alert.waitFor();
      expect(await alert.textContent()).toContain(answer.body.error.message);
      expect(await tab.page.locator('.job-console').count()).toBe(0);
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
  });

  it("a retried job's attempts follow each other in the console, the next after a line naming it, and the status ends succeeded", async () => {
    const first = newGate();
    const second = newGate();
    const counter = `${first.path}.count`;
    gates.push(counter);
    // Attempt 1 prints, waits for the first gate and fails; attempt 2 prints, waits for the second and succeeds.
    const job = await system.client.vmo.jobs.submit({
      command: `n=$(cat '${counter}' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '${counter}'; echo "try $n"; if [ $n -lt 2 ]; then ${first.wait}; exit 4; fi; ${second.wait}; echo second-done`,
      target: { type: 'agent', agent: AGENT },
      retry: { max: 2, backoff: { type: 'fixed', delayMs: 200 } },
    } as never);
    const tab = await DashboardTab.open(browser, base, { token: system.token });
    try {
      await tab.goto(`/jobs/${job.id}`);
      await waitForConsoleText(tab.page, 'try 1');
      first.open();
      await waitForConsoleText(tab.page, 'try 2');
      second.open();
      await waitForConsoleText(tab.page, 'second-done');
      await tab.page.locator('[data-status="succeeded"]').first().waitFor();
      const lines = await consoleLines(tab.page);
      const at = (text: string) => lines.findIndex((l) => l.includes(text));
      expect(at('try 1')).toBeGreaterThanOrEqual(0);
      expect(at('── attempt 2')).toBeGreaterThan(at('try 1'));
      expect(at('try 2')).toBeGreaterThan(at('── attempt 2'));
      expect(at('second-done')).toBeGreaterThan(at('try 2'));
      for (const text of ['try 1', 'try 2', 'second-done', '── attempt 2']) expect(lines.filter((l) => l.includes(text)), text).toHaveLength(1);
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
  });

  it('a stream dropped in the middle of the output resumes where it was: every line once, and the console counts the reconnect', async () => {
    // The tab reaches the API through a proxy the test can cut (the page's origin is the proxy's:
    // the API takes it as its own, as Host and Origin agree).
    const proxy = await TcpProxy.start(Number(new URL(base).port));
    const g = newGate();
    const job = await submit(`i=0; while [ ! -e '${g.path}' ]; do i=$((i+1)); echo "line $i"; sleep 0.02; done; echo "last $i"`);
    const tab = await DashboardTab.open(browser, proxy.url, { token: system.token });
    // Chromium logs the reconnects the cut refuses: the test's doing.
    tab.allowConsoleErrors(/WebSocket connection to '.*\/v1\/jobs\/job_\w+\/stream.*' failed/);
    try {
      await tab.goto(`/jobs/${job.id}`);
      await waitForConsoleText(tab.page, 'line 20');
      await tab.page.locator('.job-console .state[data-state="live"]').waitFor();
      proxy.cut();
      await tab.page.locator('.job-console .state[data-state="reconnecting"]').waitFor();
      // The job goes on writing while the page cannot hear it: stored output the console has not had.
      const had = (await consoleStats(tab.page)).lastSeq;
      await waitFor('three chunks stored while the tab was cut off', async () => (await system.client.vmo.jobs.logChunks(job.id, { after: had })).length >= 3, 30_000);
      proxy.restore();
      await tab.page.locator('.job-console .state[data-state="live"]').waitFor();
      g.open();
      await waitForConsoleText(tab.page, 'last ');
      await tab.page.locator('[data-fact="status"] [data-status="succeeded"]').waitFor();

      const lines = await consoleLines(tab.page);
      const n = Number(lines.at(-1)!.replace('last ', ''));
      expect(n).toBeGreaterThan(20);
      expect(lines).toEqual([...Array.from({ length: n }, (_, i) => `line ${i + 1}`), `last ${n}`]);
      expect(`${lines.join('\n')}\n`).toBe((await system.client.logs(job.id)).toString());
      expect((await consoleStats(tab.page)).reconnects).toBeGreaterThanOrEqual(1);
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
      await proxy.close();
    }
  });

  it("a token revoked while a running job's page is open: the tab goes to sign-in, saying why, to come back to the job", async () => {
    await system.client.vmo.users.create({ name: 'rita', role: 'operator' });
    await system.client.vmo.policies.create({ name: 'rita-reads-console', subjects: { users: ['rita'] }, actions: ['read'], targets: 'team=console' });
    const { token, id } = await system.client.vmo.tokens.create({ name: 'rita-dash', user: 'rita' });
    const running = await submit('echo watched; sleep 600');
    const tab = await DashboardTab.open(browser, base, { token });
    try {
      await tab.goto(`/jobs/${running.id}`);
      await waitForConsoleText(tab.page, 'watched');
      await tab.page.locator('.job-console .state[data-state="live"]').waitFor();
      // The page makes no REST call meanwhile: it is the stream's 4401 that ends the session.
      await system.client.vmo.tokens.revoke(id);
      await tab.page.waitForURL((url) => url.pathname === '/sign-in' && url.searchParams.get('next') === `/jobs/${running.id}`);
      await tab.page.getByText(/session has ended/).waitFor();
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
      await system.client.vmo.jobs.cancel(running.id);
    }
  });

  it('opens an OSC 8 link of the output in a new tab with no opener or referrer, its URL shown on hover; a javascript: link is none', async () => {
    const docs = `${base}/health`;
    const job = await submit(String.raw`printf 'click \033]8;;javascript:alert(1)\033\\this\033]8;;\033\\ or \033]8;;` + docs + String.raw`\033\\the docs\033]8;;\033\\ now\n'`);
    await system.client.waitForEnd(job.id);
    const tab = await DashboardTab.open(browser, base, { token: system.token });
    try {
      await tab.goto(`/jobs/${job.id}`);
      await waitForConsoleText(tab.page, 'click this or the docs now');
      await tab.page.locator('[data-fact="status"] [data-status="succeeded"]').waitFor();
      /** The middle of `text` as the console draws it (the DOM renderer's text node). */
      const pointAt = (text: string) =>
        tab.page.evaluate((wanted) => {
          const walker = document.createTreeWalker(document.querySelector('.job-console .xterm-rows')!, NodeFilter.SHOW_TEXT);
          for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            const at = node.textContent!.indexOf(wanted);
            if (at < 0) continue;
            const range = document.createRange();
            range.setStart(node, at);
            range.setEnd(node, at + wanted.length);
            const box = range.getBoundingClientRect();
            return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
          }
          throw new Error(`"${wanted}" is not drawn`);
        }, text);

      // The javascript: link is no link: clicking it opens nothing (the next page opened is the docs').
      const notALink = await pointAt('this');
      await tab.page.mouse.click(notALink.x, notALink.y);
      const link = await pointAt('docs');
      await tab.page.mouse.move(link.x, link.y);
      await tab.page.locator(`.job-console [title="${docs}"]`).waitFor();
      const [opened] = await Promise.all([tab.context.waitForEvent('page'), tab.page.mouse.click(link.x, link.y)]);
      await opened.waitForURL(docs);
      expect(tab.context.pages()).toHaveLength(2);
      expect(await opened.evaluate(() => [window.opener === null, document.referrer])).toEqual([true, '']);
      await opened.close();
      await tab.page.mouse.move(0, 0);
      await tab.page.locator(`.job-console [title="${docs}"]`).waitFor({ state: 'detached' });
      tab.expectNoConsoleErrors();
    } finally {
      await tab.close();
    }
  });

});
