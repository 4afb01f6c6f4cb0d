import { createHmac } from 'node:crypto';
import { readFile } from 'node:fs/promises';

export interface KnownHostsLine {
  marker: '@revoked' | '@cert-authority' | null;
  /** The host field as written: a pattern list, or a hashed `|1|salt|hash` entry. */
  hosts: string;
  /** `"<algorithm> <base64 key>"`. */
  key: string;
}

/** Parse OpenSSH known_hosts text; malformed lines are ignored, as ssh does. */
export function parseKnownHosts(text: string): KnownHostsLine[] {
  const lines: KnownHostsLine[] = [];
  for (const raw of text.split('\n')) {
    const fields = raw.trim().split(/\s+/);
    if (!fields[0] || fields[0].startsWith('#')) continue;
    const marker = fields[0] === '@revoked' || fields[0] === '@cert-authority' ? (fields.shift() as KnownHostsLine['marker']) : null;
    const [hosts, algo, b64] = fields;
    if (!hosts || !algo || !b64) continue;
    lines.push({ marker, hosts, key: `${algo} ${b64}` });
  }
  return lines;
}

/** The name OpenSSH looks up: `host` on port 22, `[host]:port` otherwise. */
export const knownHostsName = (host: string, port: number) => (port === 22 ? host : `[${host}]:${port}`).toLowerCase();

/** Whether a known_hosts host field names `name` (hashed entries, patterns, negations). */
export function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith('|1|')) {
    const [, , salt, hash] = field.split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  let matched = false;
  for (const pattern of field.toLowerCase().split(',')) {
    const negated = pattern.startsWith('!');
    if (globMatches(negated ? pattern.slice(1) : pattern, name)) {
      if (negated) return false; // a matching negation wins over everything
      matched = true;
    }
  }
  return matched;
}

function globMatches(pattern: string, text: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`).test(text);
}

/** Keys the file trusts and revokes for `host:port`. @cert-authority lines are not used (no host certificates). */
export function keysFor(lines: KnownHostsLine[], host: string, port: number): { trusted: string[]; revoked: string[] } {
  const name = knownHostsName(host, port);
  const trusted: string[] = [];
  const revoked: string[] = [];
  for (const l of lines) {
    if (l.marker === '@cert-authority') continue;
    if (hostFieldMatches(l.hosts, name)) (l.marker === '@revoked' ? revoked : trusted).push(l.key);
  }
  return { trusted, revoked };
}

/** Read the file at each connection attempt (it is small, and edits apply without a restart). A missing file trusts nothing. */
export async function readKnownHosts(path: string): Promise<KnownHostsLine[]> {
  try {
    return parseKnownHosts(await readFile(path, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}
