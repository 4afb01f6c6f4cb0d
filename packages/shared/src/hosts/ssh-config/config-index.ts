import type { ParsedConfig } from './config-model.ts';

/**
 * Which blocks an alias must be checked against, in file order. A Host block made only of literal
 * names (`Host web1 web1.prod`) can only apply to those names, so it is found by name; every other
 * block (wildcards, negations, Match, the lines before the first Host) is checked for every alias.
 * That keeps a 10,000-host file linear: each alias visits its own blocks plus the few shared ones.
 */
export class ConfigIndex {
  /** Blocks every alias is checked against. */
  readonly shared: number[] = [];
  private readonly byName = new Map<string, number[]>();

  constructor(config: ParsedConfig) {
    config.blocks.forEach((block, i) => {
      const literal = block.host !== undefined && block.host.length > 0 && block.host.every((p) => !p.negated && !/[*?]/.test(p.pattern));
      if (!literal) {
        this.shared.push(i);
        return;
      }
      for (const { pattern } of block.host!) {
        const list = this.byName.get(pattern) ?? [];
        if (list[list.length - 1] !== i) list.push(i);
        this.byName.set(pattern, list);
      }
    });
  }

  /** The blocks to visit for `alias`, merged in file order. */
  blocksFor(alias: string): number[] {
    const own = this.byName.get(alias);
    if (!own) return this.shared;
    const out: number[] = [];
    let a = 0;
    let b = 0;
    while (a < own.length || b < this.shared.length) {
      if (b >= this.shared.length || (a < own.length && own[a]! < this.shared[b]!)) out.push(own[a++]!);
      else out.push(this.shared[b++]!);
    }
    return out;
  }
}
