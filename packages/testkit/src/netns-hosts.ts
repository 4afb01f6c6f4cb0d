import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { mkdtempSync, mkdirSync } from 'node:fs';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanUpNetnsTest, netnsTestPrefix } from './netns-test-env.ts';

/**
 * "Other machines" for the failure tests of issue 19: each host is a network namespace joined to
 * the root namespace by a veth pair (a /30 of its own in 10.234.0.0/16, our own addresses inside
 * our own namespaces). A partition is the host side of the link set down: packets vanish, nobody
 * gets an RST. Latency: this kernel has no `sch_netem` (nor any delaying qdisc; `tc qdisc add …
 * netem` answers "Specified qdisc kind is unknown"), so `forward()` adds it in user space: a
 * proxy on the host's link that delivers every chunk `delayMs` late in each direction. `stop()` (call it in
 * afterAll, even after a failure) kills every process in the namespaces and deletes them, their
 * veths and the temp directory, found by this run's name prefix (netns-test-env.ts).
 */

const ip = (args: string[]) => execFileSync('ip', args, { encoding: 'utf8' });
const inNs = (ns: string, cmd: string, args: string[]) => execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8' });
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface NetnsHost {
  name: string;
  netns: string;
  /** This host's address (inside its namespace). */
  address: string;
  /** The root namespace's address on this host's link: where the host reaches the test's servers. */
  gateway: string;
  /** The veth in the root namespace (set down to partition the host). */
  hostLink: string;
}

export class NetnsHosts {
  readonly prefix = netnsTestPrefix();
  private dir: string | undefined;
  /** Made on first use: a file that declares hosts but runs none of its tests leaves nothing behind. */
  get tmpDir(): string {
    return (this.dir ??= mkdtempSync('/tmp/vmo-netns-'));
  }
  readonly hosts: NetnsHost[] = [];
  private readonly children = new Set<ChildProcess>();
  /** A /24 per run, chosen at random: two runs at once do not share addresses. */
  private readonly subnet = randomInt(1, 250);
  private agentBundle: string | undefined;

  private readonly servers = new Set<Server>();
  private readonly sockets = new Set<Socket>();

  /** A new host `name` (a-z, one letter or two). */
  addHost(name: string): NetnsHost {
    const i = this.hosts.length;
    const netns = `${this.prefix}-${name}`;
    const hostLink = `${this.prefix}h${name}`;
    const nsLink = `${this.prefix}n${name}`;
    const gateway = `10.234.${this.subnet}.${i * 4 + 1}`;
    const address = `10.234.${this.subnet}.${i * 4 + 2}`;
    ip(['netns', 'add', netns]);
    ip(['link', 'add', hostLink, 'type', 'veth', 'peer', 'name', nsLink]);
    ip(['link', 'set', nsLink, 'netns', netns]);
    ip(['addr', 'add', `${gateway}/30`, 'dev', hostLink]);
    ip(['link', 'set', hostLink, 'up']);
    inNs(netns, 'ip', ['addr', 'add', `${address}/30`, 'dev', nsLink]);
    inNs(netns, 'ip', ['link', 'set', nsLink, 'up']);
    inNs(netns, 'ip', ['link', 'set', 'lo', 'up']);
    const host = { name, netns, address, gateway, hostLink };
    this.hosts.push(host);
    return host;
  }

  /**
   * A port on `host`'s gateway address (reachable from the host only, over its link) forwarding
   * to 127.0.0.1:`targetPort`, every chunk delivered `delayMs` late in each direction (order
   * kept: equal timeouts fire in the order they were set). A partition of the link cuts it.
   */
  async forward(host: NetnsHost, targetPort: number, delayMs: number): Promise<number> {
    const server = createServer((client) => {
      const upstream = connect(targetPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('error', () => {});
        s.on('close', () => {
          this.sockets.delete(s);
          setTimeout(() => (client.destroy(), upstream.destroy()), delayMs);
        });
      }
      const relay = (from: Socket, to: Socket) => {
        from.on('data', (d: Buffer) => setTimeout(() => to.destroyed || to.write(d), delayMs));
        from.on('end', () => setTimeout(() => to.destroyed || to.end(), delayMs));
      };
      relay(client, upstream);
      relay(upstream, client);
    });
    this.servers.add(server);
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, host.gateway, () => resolve()));
    return (server.address() as AddressInfo).port;
  }

  /** Packets to and from `host` vanish (its link is down); nothing is closed. */
  partition(host: NetnsHost): void {
    ip(['link', 'set', host.hostLink, 'down']);
  }

  heal(host: NetnsHost): void {
    ip(['link', 'set', host.hostLink, 'up']);
  }

  /** Run `command` inside `host`'s namespace; its output is kept on `output`. */
  spawnIn(host: NetnsHost, command: string, args: string[], env: Record<string, string>): ChildProcess & { output: string } {
    const child = spawn('ip', ['netns', 'exec', host.netns, command, ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, stdio: ['ignore', 'pipe', 'pipe'] }) as ChildProcess & { output: string };
    child.output = '';
    const keep = (d: Buffer) => {
      child.output += d.toString();
      if (child.output.length > 2_000_000) child.output = child.output.slice(-1_000_000);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.children.add(child);
    return child;
  }

  /** A real agent (the bundled one) on `host`, dialing `serverUrls`, its token in the environment. */
  spawnAgent(host: NetnsHost, token: string, serverUrls: string[]): ChildProcess & { output: string } {
    this.agentBundle ??= this.buildAgent();
    const home = join(this.tmpDir, `home-${host.name}-${this.children.size}`);
    mkdirSync(home);
    return this.spawnIn(host, process.execPath, [this.agentBundle, '--server', serverUrls.join(',')], { HOME: home, VMO_AGENT_TOKEN: token, VMO_LOG_LEVEL: 'info' });
  }

  private buildAgent(): string {
    const bundle = join(this.tmpDir, 'vmo-agent.mjs');
    execFileSync(process.execPath, [join(ROOT, 'services/agent/build.mjs'), bundle], { stdio: 'ignore' });
    return bundle;
  }

  /** Everything this run made, whatever state the test left it in. */
  stop(): void {
    for (const host of this.hosts) {
      try {
        this.heal(host);
      } catch {
        // gone already
      }
    }
    for (const child of this.children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const socket of this.sockets) socket.destroy();
    for (const server of this.servers) server.close();
    cleanUpNetnsTest(this.prefix, this.dir);
  }
}
