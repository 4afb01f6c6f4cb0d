/**
 * Text that goes into shell text the control plane builds as DATA: one word, whatever it holds.
 * POSIX single quotes keep every byte as it is (no `$`, backquote, `\`, glob or newline is special
 * inside them); a `'` ends the quoting, is written escaped, and quoting resumes. sh, dash, bash,
 * ksh and zsh all read it so (the agent runs `sh -c`, an SSH host the user's login shell). Any byte
 * but NUL (which job input refuses) survives.
 *
 * LOUD: the one copy for the control plane (the SSH executor's remote script, a project's make and
 * discovery commands): a fix to quoting must land everywhere shell text is built. The CLI and the
 * dashboard keep their own, since they may not import server code.
 */
export const shellQuote = (word: string): string => `'${word.replaceAll("'", `'\\''`)}'`;
