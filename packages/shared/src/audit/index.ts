export * from './audit-event.ts';
export * from './audit-writer.ts';
export * from './insert-audit-events.ts';
export * from './policy-denial.ts';
export * from './list-audit-events.ts';
export * from './resource-id-of-name.ts';
