/**
 * Where a `%%promql` cell's magic line ends and its PromQL body starts (pure: no CodeMirror).
 *
 * IPython drops a cell's leading blank lines before it looks for `%%`, so this does too: a cell
 * that IPython runs as `%%promql` is the cell that is highlighted as one.
 */

/** The cell magic whose body is PromQL. `%%promql_alert` and the like are other magics. */
export const MAGIC = '%%promql';

/** What a token of the magic line is: the magic, an option (`--range`, `-o`) or its value. */
export type MagicTokenKind = 'magic' | 'option' | 'value';

export interface MagicToken {
  kind: MagicTokenKind;
  /** Offsets in the cell's text, `to` exclusive. */
  from: number;
  to: number;
}

export interface PromqlCell {
  /** The magic line, without its newline. */
  magicFrom: number;
  magicTo: number;
  tokens: MagicToken[];
  /** The PromQL body: after the magic line's newline, to the end of the cell (maybe empty). */
  bodyFrom: number;
  bodyTo: number;
}

const OPTION = /^--?[A-Za-z]/;

/** The `%%promql` cell in `text`, or null when the cell is not one. */
export function splitPromqlCell(text: string): PromqlCell | null {
  let start = 0;
  // Leading blank lines, as IPython's `leading_empty_lines` transformer drops them.
  for (;;) {
    const newline = text.indexOf('\n', start);
    if (newline < 0 || text.slice(start, newline).trim() !== '') {
      break;
    }
    start = newline + 1;
  }
  if (!text.startsWith(MAGIC, start)) {
    return null;
  }
  const after = text.charAt(start + MAGIC.length);
  if (after !== '' && !/\s/.test(after)) {
    return null; // %%promqlx, %%promql_alert: not this magic
  }
  const newline = text.indexOf('\n', start);
  const magicTo = newline < 0 ? text.length : newline;
  const bodyFrom = newline < 0 ? text.length : newline + 1;
  return {
    magicFrom: start,
    magicTo,
    tokens: tokenizeMagicLine(text.slice(start, magicTo), start),
    bodyFrom,
    bodyTo: text.length
  };
}

/**
 * The words of a magic line, split as the kernel's shlex does (quotes keep spaces), each marked
 * as the magic, an option or a value. `--start=now-6h` is an option and a value.
 */
export function tokenizeMagicLine(line: string, offset = 0): MagicToken[] {
  const tokens: MagicToken[] = [];
  let pos = 0;
  while (pos < line.length) {
    if (/\s/.test(line[pos])) {
      pos++;
      continue;
    }
    const from = pos;
    while (pos < line.length && !/\s/.test(line[pos])) {
      const quote = line[pos];
      if (quote === '"' || quote === "'") {
        const close = line.indexOf(quote, pos + 1);
        pos = close < 0 ? line.length : close + 1;
      } else {
        pos++;
      }
    }
    const word = line.slice(from, pos);
    if (tokens.length === 0) {
      tokens.push({ kind: 'magic', from: offset + from, to: offset + pos });
    } else if (OPTION.test(word)) {
      const equals = word.indexOf('=');
      const nameEnd = equals < 0 ? pos : from + equals;
      tokens.push({ kind: 'option', from: offset + from, to: offset + nameEnd });
      if (equals >= 0 && nameEnd + 1 < pos) {
        tokens.push({ kind: 'value', from: offset + nameEnd + 1, to: offset + pos });
      }
    } else {
      tokens.push({ kind: 'value', from: offset + from, to: offset + pos });
    }
  }
  return tokens;
}
