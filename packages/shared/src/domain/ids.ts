import { customAlphabet } from 'nanoid';

// Lower-case alphanumerics: safe in URLs, Redis keys and shell history; 20 chars ≈ 103 bits.
const random = customAlphabet('0123456789abcdefghijklmnopqrstuvwxyz', 20);

export type IdKind = 'job' | 'agt' | 'tok' | 'host' | 'run' | 'enr' | 'usr' | 'pol' | 'sch' | 'shs' | 'att' | 'prj' | 'tpl' | 'wks' | 'wop' | 'wse' | 'snp';

export const newId = (kind: IdKind): string => `${kind}_${random()}`;

export const isId = (kind: IdKind, value: string): boolean =>
  new RegExp(`^${kind}_[0-9a-z]{20}$`).test(value);
