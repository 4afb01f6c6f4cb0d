import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startAgentUnderTest } from './agent-fixture.ts';
import { newJobId, runMessage } from './messages.ts';
import { waitFor } from './wait-for.ts';

const HEAD = 'agentSecretHEAD-k3';
const TAIL = 'Q9agentTAIL-w7';
const SECRET = `${HEAD}${TAIL}`;

describe('§2 run.secretEnv', () => {
  it('the command gets it like env; every chunk sent is masked, a secret written in two pieces included, and what comes before it is sent at once', async () => {
    const { gw } = await startAgentUnderTest();
    await waitFor('hello', () => gw.current?.hello);
    const dir = mkdtempSync(join(tmpdir(), 'vmo-agent-secret-'));
    const jobId = newJobId();
    const command = [
      `printf 'start %s\\n' "$PLAIN"`,
      `printf %s "$TOKEN" | head -c ${HEAD.length}`,
      `touch ${dir}/head-written`,
      `while [ ! -e ${dir}/go ]; do sleep 0.01; done`,
      `printf %s "$TOKEN" | tail -c +${HEAD.length + 1}`,
      `printf ' end\\n'`,
      `printf '%s|%s\\n' "$TOKEN" "$TOKEN" >&2`,
    ].join('; ');
    gw.send(runMessage(jobId, command, { env: { PLAIN: 'visible' }, secretEnv: { TOKEN: SECRET } }));

    // The first line is sent while the command waits; the half secret it wrote after it is not.
    await waitFor('the first line', () => gw.output(jobId, 1).toString() === 'start visible\n');
    await waitFor('the first half written', () => existsSync(join(dir, 'head-written')));
    await new Promise((r) => setTimeout(r, 200)); // (read by the agent meanwhile; nothing should come of it)
    expect(gw.output(jobId).toString()).toBe('start visible\n');
    writeFileSync(join(dir, 'go'), '');

    const exit = await waitFor('exit', () => gw.exitOf(jobId));
    expect(exit).toMatchObject({ exitCode: 0, truncated: false });
    expect(gw.output(jobId, 1).toString()).toBe('start visible\n*** end\n');
    expect(gw.output(jobId, 2).toString()).toBe('***|***\n');
    for (const piece of [SECRET, HEAD, TAIL]) expect(gw.output(jobId).includes(piece)).toBe(false);
  });

  it('a beginning of a secret that the command never finishes is sent as it was, at the exit', async () => {
    const { gw } = await startAgentUnderTest();
    await waitFor('hello', () => gw.current?.hello);
    const jobId = newJobId();
    gw.send(runMessage(jobId, `printf 'x %s' "$(printf %s "$TOKEN" | head -c 6)"`, { secretEnv: { TOKEN: SECRET } }));
    await waitFor('exit', () => gw.exitOf(jobId));
    expect(gw.output(jobId, 1).toString()).toBe(`x ${SECRET.slice(0, 6)}`);
  });

  it('without secretEnv, output is sent untouched', async () => {
    const { gw } = await startAgentUnderTest();
    await waitFor('hello', () => gw.current?.hello);
    const jobId = newJobId();
    gw.send(runMessage(jobId, `printf %s "$TOKEN"`, { env: { TOKEN: SECRET } }));
    await waitFor('exit', () => gw.exitOf(jobId));
    expect(gw.output(jobId, 1).toString()).toBe(SECRET);
  });
});
