import { z } from 'zod';
import { storableString } from '../errors/storable-text.ts';
import { HostImportInput, HostInput, HostPatch } from '../hosts/host-input.ts';
import { AUTHENTICATED, errorResponses } from './errors.ts';
import { defineRoute, intParam, json } from './route.ts';

const when = (what: string) => z.iso.datetime({ offset: true }).meta({ description: what });

export const Host = z
  .object({
    id: z.string().meta({ example: 'host_0123456789abcdefghij' }),
    ref: z.string().meta({ description: '`name@environment`: what a job target may use', example: 'db-1@prod' }),
    name: z.string(),
    environment: z.string(),
    host: z.string(),
    user: z.string(),
    port: z.number().int(),
    description: z.string(),
    labels: z.record(z.string(), z.string()),
    identityFile: z.string().nullable(),
    proxyJump: z.string().nullable(),
    hostKeyPolicy: z.enum(['strict', 'accept-new']),
    pinnedHostKeys: z.array(z.string()),
    maxConcurrentJobs: z
      .number()
      .int()
      .nullable()
      .meta({ description: 'At most this many of its SSH jobs run at once; the rest wait `queued`, first in first out (see `queuePosition` on a job). Null: no limit.' }),
    createdAt: when('When it was added'),
    updatedAt: when('When it last changed'),
  })
  .meta({ id: 'Host' });
export type Host = z.infer<typeof Host>;

export const HostPage = z.object({ items: z.array(Host), nextCursor: z.string().nullable() }).meta({ id: 'HostPage' });

export const HostImportResult = z
  .object({
    created: z.array(Host),
    updated: z.array(Host),
    unchanged: z.array(Host).meta({ description: 'Aliases whose host already had exactly these settings' }),
    skipped: z.array(
      z.object({
        alias: z.string().meta({ description: 'The alias, inventory host, VM name or directive not imported (or the file, when a whole vm-config file brings nothing)' }),
        reason: z.string(),
        line: z.number().int().optional(),
        file: z.string().optional().meta({ description: 'vm-config: the file (`<env>/config.yml`) the entry is in' }),
      }),
    ),
    warnings: z
      .array(z.object({ line: z.number().int(), directive: z.string(), aliases: z.array(z.string()), message: z.string(), file: z.string().optional() }))
      .meta({ description: 'SSH config: lines imported with another meaning than ssh gives them (e.g. StrictHostKeyChecking no). Ansible: keys Ansible itself only warns about and skips' }),
  })
  .meta({ id: 'HostImportResult' });

export const HostIdParams = z.object({ id: storableString().meta({ description: 'A host id (`host_…`), name, or name@environment', example: 'db-1@prod' }) });

export const ListHostsQuery = z
  .object({
    environment: z.string().min(1).max(63).optional(),
    limit: intParam(1, 500, 100),
    cursor: z.string().regex(/^host_[0-9a-z]{20}$/, 'must be a nextCursor from a previous page').optional(),
  })
  .strict();

const HOST_NOT_FOUND = { ...AUTHENTICATED, 404: ['not_found'] } as const;
const BAD_BODY = { 400: ['validation_failed', 'invalid_json'] } as const;

export const createHost = defineRoute({
  method: 'post',
  path: '/v1/hosts',
  operationId: 'createHost',
  tags: ['hosts'],
  summary: 'Add a host',
  request: { body: { required: true, content: json(HostInput.meta({ id: 'HostInput' })) } },
  responses: {
    201: { description: 'Added', headers: z.object({ Location: z.string().meta({ description: '`/v1/hosts/{id}`' }) }), content: json(Host) },
    ...errorResponses({ ...AUTHENTICATED, ...BAD_BODY, 409: ['host_exists'] }),
  },
});

export const listHosts = defineRoute({
  method: 'get',
  path: '/v1/hosts',
  operationId: 'listHosts',
  tags: ['hosts'],
  summary: 'List hosts by name and environment',
  request: { query: ListHostsQuery },
  responses: { 200: { description: 'A page of hosts', content: json(HostPage) }, ...errorResponses(AUTHENTICATED) },
});

export const importHosts = defineRoute({
  method: 'post',
  path: '/v1/hosts/import',
  operationId: 'importHosts',
  tags: ['hosts'],
  summary: 'Import hosts from an OpenSSH client config, an Ansible inventory or vm-config files',
  description: [
    'All or nothing: a refused import (400, 413) writes nothing. A host created here has no maxConcurrentJobs and hostKeyPolicy strict, and an import leaves an existing host\'s description, identity file, ProxyJump, host key policy, pinned keys and job limit alone.',
    '`{config, environment?}` (or `format: "ssh-config"`): one host per concrete alias, with OpenSSH precedence; never follows Include, never runs Match exec.',
    '`{format: "ansible", inventory, syntax?, environment?}`: an INI or YAML inventory as `ansible-inventory --list` reads it (ranges, children, group vars); address, user and port from ansible_host, ansible_user and ansible_port (or their ansible_ssh_ forms); each group a label `group.<name>=true` (children included); a host with no ansible_user, another ansible_connection or a Jinja2 template in those values is skipped with the reason.',
    '`{format: "vm-config", files: {"<env>/config.yml": text}}`: each file\'s `vms: {name: {host, ansible_user, port?}}` becomes host `name@<env>` labelled `env=<env>`.',
    'Labels the import owns (`group.*` for Ansible, `env` for vm-config) are replaced on each import; other labels of an existing host stay.',
  ].join('\n\n'),
  request: { body: { required: true, content: json(HostImportInput.meta({ id: 'HostImport' })) } },
  responses: {
    200: { description: 'What was created, updated, left alone and skipped', content: json(HostImportResult) },
    ...errorResponses({ ...AUTHENTICATED, 400: ['validation_failed', 'invalid_json', 'invalid_ssh_config', 'invalid_inventory'], 413: ['payload_too_large', 'ssh_config_too_large', 'inventory_too_large'] }),
  },
});

export const getHost = defineRoute({
  method: 'get',
  path: '/v1/hosts/{id}',
  operationId: 'getHost',
  tags: ['hosts'],
  summary: 'A host',
  request: { params: HostIdParams },
  responses: { 200: { description: 'The host', content: json(Host) }, ...errorResponses({ ...HOST_NOT_FOUND, 422: ['ambiguous_host'] }) },
});

export const updateHost = defineRoute({
  method: 'patch',
  path: '/v1/hosts/{id}',
  operationId: 'updateHost',
  tags: ['hosts'],
  summary: 'Change a host',
  description: 'Any subset of the fields; `null` clears identityFile, proxyJump or maxConcurrentJobs (no limit); `[]` clears the pinned keys (re-trust). A new maxConcurrentJobs applies to jobs that start after it: running jobs go on, and jobs waiting for a slot start at once when it rises.',
  request: { params: HostIdParams, body: { required: true, content: json(HostPatch.meta({ id: 'HostPatch' })) } },
  responses: {
    200: { description: 'The host after the change', content: json(Host) },
    ...errorResponses({ ...HOST_NOT_FOUND, ...BAD_BODY, 409: ['host_exists'], 422: ['ambiguous_host'] }),
  },
});

export const deleteHost = defineRoute({
  method: 'delete',
  path: '/v1/hosts/{id}',
  operationId: 'deleteHost',
  tags: ['hosts'],
  summary: 'Remove a host',
  description: 'Jobs keep its id; a queued job for it fails with `unknown_host`.',
  request: { params: HostIdParams },
  responses: { 204: { description: 'Removed' }, ...errorResponses({ ...HOST_NOT_FOUND, 422: ['ambiguous_host'] }) },
});
