// Interactive shell sessions (issue 17, protocol/SHELL.md): their rows and recorded bytes, and
// the session side of the protocol (ring, attachments, grace) whoever owns the terminal.
export * from './shell-session-row.ts';
export * from './open-shell-session.ts';
export * from './record-shell-output.ts';
export * from './list-shell-sessions.ts';
export * from './output-ring.ts';
export * from './held-shell-session.ts';
export * from './shell-holder.ts';
export * from './live-shell-sessions.ts';
export * from './shell-holder-nodes.ts';
