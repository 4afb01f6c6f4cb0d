/**
 * The line a VM runs to install an agent: the same shape `vmo agents add` prints
 * (packages/cli/src/commands/agents.ts installCommand): the installer from this server, the token
 * from a file, never on the command line (install.sh refuses --token: `ps` would show it).
 */
export function installCommand(server: string, tokenFile: string): string {
  const base = server.replace(/\/+$/, '');
  return `curl -fsSL ${shellQuote(`${base}/v1/agent/install.sh`)} | sudo sh -s -- --server ${shellQuote(base)} --token-file ${shellQuote(tokenFile)}`;
}

/** The CLI's quoting (packages/cli/src/job/command-line.ts): plain words as they are, anything else in single quotes. */
export function shellQuote(word: string): string {
  if (word !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Plain http to a machine other than the VM itself: install.sh refuses it without --insecure-http (README, Agents on your VMs). */
export function isPlainHttpElsewhere(server: string): boolean {
  const url = new URL(server);
  if (url.protocol !== 'http:') return false;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  return !(host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host));
}
