import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import { splitPromqlCell, tokenizeMagicLine } from '../src/magic';

const words = (text: string): [string, string][] =>
  (splitPromqlCell(text)?.tokens ?? []).map(t => [t.kind, text.slice(t.from, t.to)]);

test('a %%promql first line starts a PromQL cell; the body is the rest', () => {
  const text = '%%promql --range 6h\nsum(up)\n';
  const cell = splitPromqlCell(text);
  assert.ok(cell);
  assert.equal(text.slice(cell.magicFrom, cell.magicTo), '%%promql --range 6h');
  assert.equal(text.slice(cell.bodyFrom, cell.bodyTo), 'sum(up)\n');
});

test('the magic alone, with no body and no newline, is a cell with an empty body', () => {
  const cell = splitPromqlCell('%%promql');
  assert.ok(cell);
  assert.deepEqual([cell.bodyFrom, cell.bodyTo], [8, 8]);
});

test('leading blank lines are skipped, as IPython drops them', () => {
  const text = '\n  \n%%promql\nup';
  const cell = splitPromqlCell(text);
  assert.ok(cell);
  assert.equal(text.slice(cell.bodyFrom), 'up');
  assert.equal(cell.magicFrom, 4);
});

test('other cells are not PromQL cells', () => {
  for (const text of [
    '',
    'sum(up)',
    '%promql up',
    '%%promqlx\nup',
    '%%promql_alert --for 5m\nup > 0',
    ' %%promql\nup', // IPython would not run this as a cell magic either
    'x = 1\n%%promql\nup',
    '# %%promql\nup'
  ]) {
    assert.equal(splitPromqlCell(text), null, JSON.stringify(text));
  }
});

test('magic line: the magic, options and values; --opt=value is split at =', () => {
  assert.deepEqual(words('%%promql --range 24h -o df --start=now-6h --plot\nup'), [
    ['magic', '%%promql'],
    ['option', '--range'],
    ['value', '24h'],
    ['option', '-o'],
    ['value', 'df'],
    ['option', '--start'],
    ['value', 'now-6h'],
    ['option', '--plot']
  ]);
});

test('magic line: a quoted value keeps its spaces; offsets are the cell text offsets', () => {
  const text = "%%promql --legend '{{instance}} cpu'\nup";
  assert.deepEqual(words(text), [
    ['magic', '%%promql'],
    ['option', '--legend'],
    ['value', "'{{instance}} cpu'"]
  ]);
  assert.deepEqual(tokenizeMagicLine('%%promql  -o x', 10), [
    { kind: 'magic', from: 10, to: 18 },
    { kind: 'option', from: 20, to: 22 },
    { kind: 'value', from: 23, to: 24 }
  ]);
});

test('magic line: an unclosed quote runs to the end of the line', () => {
  assert.deepEqual(words('%%promql --legend "a b\nup'), [
    ['magic', '%%promql'],
    ['option', '--legend'],
    ['value', '"a b']
  ]);
});
