import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import { Text } from '@codemirror/state';
import { IterMode } from '@lezer/common';
import { highlightTree } from '@lezer/highlight';

import { isPromqlDoc } from '../src/cell';
import { outerTree, promqlCellLanguage, promqlClasses } from '../src/language';

/** Every highlighted token of a cell as [text, class], in order. */
function tokens(text: string): [string, string][] {
  const tree = promqlCellLanguage.parser.parse(text);
  const out: [string, string][] = [];
  highlightTree(tree, promqlClasses, (from, to, cls) => out.push([text.slice(from, to), cls]));
  return out;
}

const CELL = [
  '%%promql --range 24h --plot',
  '# 5xx share per host',
  'sum by (instance) (rate(http_requests_total{code=~"5..", job!="x"}[5m]))',
  '  / ignoring(code) group_left',
  'sum by (instance) (rate(http_requests_total[5m]))'
].join('\n');

test('the magic line is the magic, options and values', () => {
  assert.deepEqual(tokens(CELL).slice(0, 4), [
    ['%%promql', 'sysmon-promql-magic'],
    ['--range', 'sysmon-promql-option'],
    ['24h', 'sysmon-promql-option-value'],
    ['--plot', 'sysmon-promql-option']
  ]);
});

test('the body is PromQL: functions, aggregations, modifiers, durations, matchers', () => {
  const found = tokens(CELL);
  const has = (text: string, cls: string) =>
    assert.ok(
      found.some(([t, c]) => t === text && c === cls),
      `${text} as ${cls} in ${JSON.stringify(found)}`
    );
  has('# 5xx share per host', 'sysmon-promql-comment');
  has('sum', 'sysmon-promql-aggregation');
  has('by', 'sysmon-promql-modifier');
  has('rate', 'sysmon-promql-function');
  has('http_requests_total', 'sysmon-promql-metric');
  has('code', 'sysmon-promql-label');
  has('=~', 'sysmon-promql-operator');
  has('"5.."', 'sysmon-promql-string');
  has('5m', 'sysmon-promql-number'); // one token, not `5` and `m`
  has('ignoring', 'sysmon-promql-modifier');
  has('group_left', 'sysmon-promql-modifier');
  // `range` in `--range` is not PromQL's range function here, nor a Python builtin
  assert.ok(!found.some(([t]) => t === 'range'));
});

test('the PromQL tree is mounted on the body only', () => {
  const text = '%%promql -o df\nrate(x[5m])';
  const tree = promqlCellLanguage.parser.parse(text);
  const outer: string[] = [];
  tree.iterate({ mode: IterMode.IgnoreMounts, enter: node => void outer.push(node.name) });
  assert.deepEqual(outer, ['PromqlCell', 'Magic', 'Option', 'OptionValue', 'Body']);
  // Entering the mount, the body is codemirror-promql's tree, starting where the body does.
  const inner: [string, number][] = [];
  tree.iterate({ enter: node => void inner.push([node.name, node.from]) });
  assert.deepEqual(inner.slice(4, 7), [
    ['PromQL', 15],
    ['FunctionCall', 15],
    ['FunctionIdentifier', 15]
  ]);
});

test('a cell that is not %%promql has an empty outer tree', () => {
  const tree = outerTree('x = 1\n');
  assert.equal(tree.length, 6);
  assert.equal(tree.topNode.firstChild, null);
});

test('isPromqlDoc reads the first non-blank line', () => {
  assert.equal(isPromqlDoc(Text.of(['%%promql', 'up'])), true);
  assert.equal(isPromqlDoc(Text.of(['', '%%promql --range 1h'])), true);
  assert.equal(isPromqlDoc(Text.of(['up', '%%promql'])), false);
  assert.equal(isPromqlDoc(Text.of(['%%promql_alert'])), false);
  assert.equal(isPromqlDoc(Text.of([''])), false);
});
