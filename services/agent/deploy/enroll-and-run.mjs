#!/usr/bin/env node
// For docker compose: register this agent with the admin token on first start and keep its token
// in a file (mode 0600) on a volume; then, unless --enroll-only, run the agent in this process's
// place with that file. The compose file enrolls in a one-shot service (the only one besides the
// API that sees the admin token) and runs the agent in another. A real VM uses install.sh.
//
//   VMO_SERVER            the control plane, e.g. http://api:3121
//   VMO_ADMIN_TOKEN_FILE  file with the admin token (or VMO_ADMIN_TOKEN), needed only to enroll
//   VMO_AGENT_NAME        default compose-agent
//   VMO_AGENT_TOKEN_FILE  where the agent token is kept, default /var/lib/vmo-agent/token
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const enrollOnly = process.argv.includes('--enroll-only');
const server = process.env.VMO_SERVER;
const name = process.env.VMO_AGENT_NAME ?? 'compose-agent';
const tokenFile = process.env.VMO_AGENT_TOKEN_FILE ?? '/var/lib/vmo-agent/token';
const fail = (message) => {
  console.error(`enroll-and-run: ${message}`);
  process.exit(2);
};
if (!server) fail('VMO_SERVER is required');

if (!existsSync(tokenFile)) {
  const adminFile = process.env.VMO_ADMIN_TOKEN_FILE;
  let admin = process.env.VMO_ADMIN_TOKEN;
  if (adminFile) {
    try {
      admin = readFileSync(adminFile, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      fail(`VMO_ADMIN_TOKEN_FILE: cannot read ${adminFile} (${err.code ?? 'error'})`);
    }
  }
  if (!admin) fail(`no agent token in ${tokenFile} yet, and no VMO_ADMIN_TOKEN_FILE (or VMO_ADMIN_TOKEN) to enroll with`);
  const api = (method, path, body) =>
    fetch(`${server}${path}`, { method, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: body && JSON.stringify(body) });
  let res = await api('POST', '/v1/agents', { name });
  if (res.status === 409) {
    // Registered before but the token was lost with the volume: revoke and register again.
    await api('DELETE', `/v1/agents/${encodeURIComponent(name)}`);
    res = await api('POST', '/v1/agents', { name });
  }
  if (res.status !== 201) fail(`registration failed: HTTP ${res.status} ${(await res.json().catch(() => ({})))?.error?.code ?? ''}`);
  const { token } = await res.json();
  mkdirSync(dirname(tokenFile), { recursive: true, mode: 0o700 });
  // Written beside, then renamed: never a half-written or world-readable token file.
  writeFileSync(`${tokenFile}.tmp`, `${token}\n`, { mode: 0o600 });
  renameSync(`${tokenFile}.tmp`, tokenFile);
  console.error(`enroll-and-run: registered agent ${name}; token kept in ${tokenFile}`);
}
if (enrollOnly) process.exit(0);

// The agent gets the file, never the value, and never the admin token.
// VMO_AGENT_NAME named the registration above; to the agent it would mean "enrol under this name".
const { VMO_ADMIN_TOKEN: _a, VMO_ADMIN_TOKEN_FILE: _f, VMO_AGENT_TOKEN: _t, VMO_AGENT_NAME: _n, ...env } = process.env;
const child = spawn(process.execPath, ['--import', 'tsx', 'services/agent/src/main.ts', '--server', server], {
  stdio: 'inherit',
  env: { ...env, VMO_AGENT_TOKEN_FILE: tokenFile },
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
