/**
 * What a terminal sends by itself in answer to a query in its output: cursor position (CSI r;c R),
 * device attributes (CSI ? … c, CSI > … c, DCS ! | … ST), status (CSI n), mode reports
 * (CSI ? … $ y), window reports (CSI … t), OSC answers (colours: OSC 11;rgb:… ST), DCS answers
 * (XTGETTCAP, DECRQSS) and focus reports (CSI I, CSI O).
 *
 * Replayed output holds queries asked long ago; a terminal rendering it answers them again, and
 * sending those answers to the shell types garbage at its prompt (coder/coder#3666). SHELL.md §S2:
 * during a replay the client drops input made only of such answers.
 */
const ANSWER = String.raw`\x1b\[\??[\d;]*R|\x1b\[[?>=][\d;]*c|\x1b\[\d*n|\x1b\[\??[\d;]*\$y|\x1b\[[\d;]*t|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1bP[^\x1b]*\x1b\\|\x1b\[[IO]`;
const ONLY_ANSWERS = new RegExp(`^(?:${ANSWER})+$`);

export function isTerminalAnswer(input: Uint8Array | string): boolean {
  const text = typeof input === 'string' ? input : new TextDecoder().decode(input);
  return text.length > 0 && ONLY_ANSWERS.test(text);
}
