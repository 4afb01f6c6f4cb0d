/**
 * Python's `shlex.split(line, comments=True)` (POSIX mode), which Ansible's INI plugin uses to cut
 * a host line into its pattern and `key=value` words: whitespace separates words, `'…'` is
 * literal, `"…"` takes `\"` and `\\`, a backslash outside quotes escapes any character, and `#`
 * outside quotes starts a comment, even in the middle of a word (`web1#old` is `web1`).
 * Throws, as shlex does, on an unclosed quote or a trailing backslash.
 */
export function shlexSplit(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false; // a word has started (an empty '' counts)
  let i = 0;
  const end = () => {
    if (inWord) words.push(word);
    word = '';
    inWord = false;
  };
  while (i < line.length) {
    const c = line[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      end();
      i++;
    } else if (c === '#') {
      break;
    } else if (c === '\\') {
      if (i + 1 >= line.length) throw new Error('No escaped character');
      word += line[i + 1];
      inWord = true;
      i += 2;
    } else if (c === "'") {
      const close = line.indexOf("'", i + 1);
      if (close < 0) throw new Error('No closing quotation');
      word += line.slice(i + 1, close);
      inWord = true;
      i = close + 1;
    } else if (c === '"') {
      i++;
      inWord = true;
      for (;;) {
        if (i >= line.length) throw new Error('No closing quotation');
        const d = line[i]!;
        if (d === '"') {
          i++;
          break;
        }
        if (d === '\\') {
          if (i + 1 >= line.length) throw new Error('No closing quotation');
          const n = line[i + 1]!;
          word += n === '"' || n === '\\' ? n : d + n;
          i += 2;
          continue;
        }
        word += d;
        i++;
      }
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  end();
  return words;
}
