// SSH to inventory hosts, one concern used by two services: the worker (ssh jobs, its executor)
// and the API (host shells). Services do not depend on each other (docs/design.md), so it lives here.
export { addressAllowed, nameAllowed, parseAllowedTargets, type TargetPolicy } from './allowed-targets.ts';
export { SshConnectionPool, type Lease, type PoolOptions } from './connection-pool.ts';
export { createSshPool } from './create-ssh-pool.ts';
export { parseKeyDirs } from './key-dirs.ts';
export { openRoute, type OpenConnection, type SshSettings } from './open-route.ts';
export type { ResolveName } from './plan-hop.ts';
export { endpointOf, resolveRoute, UnknownHostError } from './resolve-route.ts';
export { runRemoteCommand, type RemoteCommand, type RemoteExit, type RemoteOutput } from './run-remote-command.ts';
export type { SshEndpoint, SshRoute } from './ssh-endpoint.ts';
export { sshEnv, type SshConfig } from './ssh-env.ts';
export { SshError, type SshErrorCode } from './ssh-error.ts';
export { openSshShell, type SshShellDeps, type SshShellOpen } from './ssh-shell.ts';
export { stillTrusted } from './still-trusted.ts';
