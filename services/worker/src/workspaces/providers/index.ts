import type { ProviderKind } from '@vmo/shared/domain';
import type { WorkspaceProvider } from '@vmo/shared/workspaces';
import { commandProvider } from './command.ts';
import { dockerProvider } from './docker.ts';
import { fakeProvider } from './fake.ts';
import { netnsProvider } from './netns/netns-provider.ts';

/**
 * Provider kind → factory (issue 18). The engine asks for a provider per operation; a kind with
 * no line here fails its operations with `provider_unavailable`. netns/command (helper C) and
 * docker (helper E) add their line.
 */
export const PROVIDER_FACTORIES: Partial<Record<ProviderKind, () => WorkspaceProvider>> = {
  fake: fakeProvider,
  netns: netnsProvider,
  command: commandProvider,
  docker: dockerProvider,
};

export function providerFor(kind: string): WorkspaceProvider | undefined {
  const make = PROVIDER_FACTORIES[kind as ProviderKind];
  return make ? make() : undefined;
}
