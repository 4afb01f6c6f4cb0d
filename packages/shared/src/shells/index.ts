// Interactive shell sessions (issue 17, protocol/SHELL.md): their rows and recorded bytes.
export * from './shell-session-row.ts';
export * from './open-shell-session.ts';
export * from './record-shell-output.ts';
export * from './list-shell-sessions.ts';
