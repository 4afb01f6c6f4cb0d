/**
 * The docker provider as the contract suite's subject (docker-provider.test.ts), also imported by
 * the kill case's child process (converge-child.ts). The engine is VMO_DOCKER_TEST_HOST (set by the
 * test before each suite: the real engine, or the stand-in's socket), which the child inherits.
 * The container runs `sleep` (no agent: the provider's part ends at a running container).
 */
import { dockerEndpoint, engineRequest } from '../../src/workspaces/providers/docker-engine.ts';
import { createDockerProvider, WORKSPACE_LABEL } from '../../src/workspaces/providers/docker.ts';
import type { MakeContractContext } from './provider-contract.ts';

export const TEST_IMAGE = process.env.VMO_DOCKER_TEST_IMAGE ?? 'busybox:latest';
export const TEST_TOKEN = 'vmo_agt_dockerprovidertesttoken0123456789';
const host = () => process.env.VMO_DOCKER_TEST_HOST;

export const makeProvider = createDockerProvider;

export const makeContext: MakeContractContext = ({ workspaceId, state, signal, slow, log }) => ({
  workspaceId,
  workspaceName: `test-${workspaceId.slice(-6)}`,
  // slow: the start watches the container for 30 s after it runs (the abort and the kill land in it).
  config: { image: TEST_IMAGE, host: host(), command: ['sleep', '3600'], settleMs: slow ? 30_000 : 200, env: { FROM_TEMPLATE: 'yes' } },
  params: {},
  state,
  agent: { url: 'http://127.0.0.1:1', token: TEST_TOKEN, name: `ws-test-${workspaceId.slice(-6)}`, labels: { workspace: 'test' } },
  log,
  signal,
});

/** Containers labelled for the workspace, whatever their name. */
export const inspect = async (workspaceId: string): Promise<number> => {
  const filters = encodeURIComponent(JSON.stringify({ label: [`${WORKSPACE_LABEL}=${workspaceId}`] }));
  const answer = await engineRequest(dockerEndpoint(host()), 'GET', `/containers/json?all=true&filters=${filters}`);
  return (JSON.parse(answer.body) as unknown[]).length;
};
