import { z } from 'zod';
import { storableText } from '../errors/storable-text.ts';
import { LabelsInput } from '../domain/labels.ts';
import { MaxConcurrentJobsInput } from '../agents/max-concurrent-jobs.ts';

export const DEFAULT_ENVIRONMENT = 'default';

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const nameField = () =>
  z.string({ error: 'is required and must be a string' }).regex(NAME, 'must be 1-63 letters, digits, "_", "." or "-", starting with a letter or digit');

/** `"<algorithm> <base64 key blob>"`, as in known_hosts; the blob must start with the algorithm name. */
export const HostKeyEntry = z
  .string()
  .regex(/^[a-z0-9@.-]{3,64} [A-Za-z0-9+/]+={0,2}$/, 'must be "<algorithm> <base64 key>", as in a known_hosts line without the host')
  .refine(blobNamesItsAlgorithm, 'the key blob does not start with the algorithm it is labelled with');

function blobNamesItsAlgorithm(entry: string): boolean {
  const [algo, b64] = entry.split(' ') as [string, string];
  const blob = Buffer.from(b64, 'base64');
  if (blob.length < 4) return false;
  const len = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + len).toString('latin1') === algo;
}

const sshOptions = {
  host: z.string().min(1, 'must not be empty').max(255).regex(/^[A-Za-z0-9_.:%-]+$/, 'must be a DNS name or an IP address'),
  user: storableText(z.string().min(1, 'must not be empty').max(255).regex(/^[^\s@:'"\\]+$/, 'must not contain spaces, "@", ":", quotes or backslashes')),
  port: z.number({ error: 'must be a port number' }).int('must be a whole number').min(1).max(65535),
  description: storableText(z.string().max(4096)),
  labels: LabelsInput,
  identityFile: storableText(z.string().min(1).max(4096)).nullable(),
  proxyJump: storableText(z.string().min(1).max(1024).regex(/^[^\s'"\\]+$/, 'must be comma-separated hops without spaces or quotes')).nullable(),
  hostKeyPolicy: z.enum(['strict', 'accept-new'], { error: 'must be "strict" or "accept-new" (there is no accept-anything mode)' }),
  pinnedHostKeys: z.array(HostKeyEntry).max(32, 'at most 32 keys'),
};

/** Body of POST /v1/hosts. */
export const HostInput = z
  .object({
    name: nameField(),
    environment: nameField().default(DEFAULT_ENVIRONMENT),
    host: sshOptions.host,
    user: sshOptions.user,
    port: sshOptions.port.default(22),
    description: sshOptions.description.default(''),
    labels: sshOptions.labels.default({}),
    identityFile: sshOptions.identityFile.default(null),
    proxyJump: sshOptions.proxyJump.default(null),
    hostKeyPolicy: sshOptions.hostKeyPolicy.default('strict'),
    pinnedHostKeys: sshOptions.pinnedHostKeys.default([]),
    maxConcurrentJobs: MaxConcurrentJobsInput.default(null),
  })
  .strict();
export type HostInput = z.infer<typeof HostInput>;

/** Body of PATCH /v1/hosts/{id}: any subset; `null` clears identityFile/proxyJump/maxConcurrentJobs; `[]` clears pins (re-trust). */
export const HostPatch = z
  .object({
    name: nameField().optional(),
    environment: nameField().optional(),
    host: sshOptions.host.optional(),
    user: sshOptions.user.optional(),
    port: sshOptions.port.optional(),
    description: sshOptions.description.optional(),
    labels: sshOptions.labels.optional(),
    identityFile: sshOptions.identityFile.optional(),
    proxyJump: sshOptions.proxyJump.optional(),
    hostKeyPolicy: sshOptions.hostKeyPolicy.optional(),
    pinnedHostKeys: sshOptions.pinnedHostKeys.optional(),
    maxConcurrentJobs: MaxConcurrentJobsInput.optional(),
  })
  .strict();
export type HostPatch = z.infer<typeof HostPatch>;

/** Body of POST /v1/hosts/import for an OpenSSH client config (`format` absent or "ssh-config"). */
export const SshConfigImportInput = z
  .object({
    format: z.literal('ssh-config').optional(),
    // Its size is limited by the import itself (SSH_CONFIG_LIMITS: a 413 that says so), not here,
    // where a schema-wide message called an oversized config "required".
    config: storableText(
      z.string({ error: (issue) => (issue.input === undefined ? 'is required: the text of an OpenSSH client config' : 'must be a string: the text of an OpenSSH client config') }),
    ),
    environment: nameField().default(DEFAULT_ENVIRONMENT),
  })
  .strict();
export type SshConfigImportInput = z.infer<typeof SshConfigImportInput>;

/** An Ansible inventory, INI or YAML (sizes limited by the import: INVENTORY_LIMITS, 413). */
export const AnsibleImportInput = z
  .object({
    format: z.literal('ansible'),
    inventory: storableText(
      z.string({ error: (issue) => (issue.input === undefined ? 'is required: the text of an Ansible inventory (INI or YAML)' : 'must be a string: the text of an Ansible inventory (INI or YAML)') }),
    ),
    syntax: z.enum(['ini', 'yaml'], { error: 'must be "ini" or "yaml" (leave it out to try YAML, then INI, as Ansible does)' }).optional(),
    environment: nameField().default(DEFAULT_ENVIRONMENT),
  })
  .strict();
export type AnsibleImportInput = z.infer<typeof AnsibleImportInput>;

/** Per-environment config files: `{"<env>/config.yml": "<its text>"}`. */
export const VmConfigImportInput = z
  .object({
    format: z.literal('vm-config'),
    files: z
      .record(
        storableText(z.string()),
        storableText(z.string({ error: 'must be a string: the text of the file' })),
        { error: (issue) => (issue.input === undefined ? 'is required: {"<env>/config.yml": "<its text>", …}' : 'must be an object {"<env>/config.yml": "<its text>", …}') },
      )
      .refine((f) => Object.keys(f).length > 0, 'must name at least one <env>/config.yml'),
  })
  .strict();
export type VmConfigImportInput = z.infer<typeof VmConfigImportInput>;

/** Body of POST /v1/hosts/import: by `format`; without one, an OpenSSH config (as before formats). */
export const HostImportInput = z.discriminatedUnion('format', [SshConfigImportInput, AnsibleImportInput, VmConfigImportInput], {
  error: (issue) => (issue.code === 'invalid_union' ? 'must be "ssh-config" (the default), "ansible" or "vm-config"' : undefined),
});
export type HostImportInput = z.infer<typeof HostImportInput>;

export const isHostName = (s: string) => NAME.test(s);
