/**
 * A session's recorded input (VMO_SHELL_RECORD_INPUT=true: GET /v1/sessions/{id}/logs?stream=input)
 * made readable: keys are bytes, and the interesting ones are not printable. Enter shows as `⏎` and
 * ends the line; other control bytes as caret notation (`^C`, `^[` for Escape, `^?` for Backspace),
 * so an operator reading the audit sees what was pressed, not what a terminal would do with it.
 */
export function showTypedInput(bytes: Uint8Array): string {
  const text = new TextDecoder().decode(bytes);
  let out = '';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (ch === '\r' || ch === '\n') out += '⏎\n';
    else if (ch === '\t') out += '⇥';
    else if (code < 0x20) out += `^${String.fromCharCode(code + 0x40)}`;
    else if (code === 0x7f) out += '^?';
    else out += ch;
  }
  return out;
}
