#!/usr/bin/env node
// For docker compose: register this agent with the admin token on first start, keep its token
// in a volume, then run the agent in this process's place. A real VM uses install.sh instead.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const server = process.env.VMO_SERVER;
const admin = process.env.VMO_ADMIN_TOKEN;
const name = process.env.VMO_AGENT_NAME ?? 'compose-agent';
const tokenFile = process.env.VMO_AGENT_TOKEN_FILE ?? '/var/lib/vmo-agent/token';
if (!server || !admin) {
  console.error('enroll-and-run: VMO_SERVER and VMO_ADMIN_TOKEN are required');
  process.exit(2);
}
const api = (method, path, body) =>
  fetch(`${server}${path}`, { method, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' }, body: body && JSON.stringify(body) });

if (!existsSync(tokenFile)) {
  let res = await api('POST', '/v1/agents', { name });
  if (res.status === 409) {
    // Registered before but the token was lost with the volume: revoke and register again.
    await api('DELETE', `/v1/agents/${encodeURIComponent(name)}`);
    res = await api('POST', '/v1/agents', { name });
  }
  if (res.status !== 201) {
    console.error(`enroll-and-run: registration failed: HTTP ${res.status} ${await res.text()}`);
    process.exit(1);
  }
  const { token } = await res.json();
  mkdirSync(dirname(tokenFile), { recursive: true });
  writeFileSync(tokenFile, token, { mode: 0o600 });
}
const child = spawn('npm', ['run', 'agent', '--', '--server', server], {
  stdio: 'inherit',
  env: { ...process.env, VMO_AGENT_TOKEN: readFileSync(tokenFile, 'utf8').trim(), VMO_ADMIN_TOKEN: '' },
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
