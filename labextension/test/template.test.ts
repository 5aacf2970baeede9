import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import { lintCell, lintPromql } from '../src/lint';
import { withoutTemplates } from '../src/template';

const TEMPLATED = [
  'sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[$__rate_interval]))',
  'rate(x[${window}]) offset $shift',
  'max_over_time(rate(x[5m])[$range:$step])',
  'sum by ($label) (x)',
  'topk($k, x)',
  'x > $threshold',
  'sum(rate(${metric:raw}[5m]))',
  'rate([[metric]][$__interval])'
];

test('templated queries lint clean once their references are placeholders', () => {
  for (const query of TEMPLATED) {
    assert.notDeepEqual(lintPromql(query), [], `${query} should not lint clean as written`);
    const plain = withoutTemplates(query);
    assert.equal(plain.length, query.length, plain);
    assert.deepEqual(lintPromql(plain), [], `${query} -> ${plain}`);
  }
});

test('strings, comments and label_replace groups are left as written', () => {
  const query = 'label_replace(x, "dst", "$1", "src", "(.*)") # $not_a_reference';
  assert.equal(withoutTemplates(query), query);
  assert.equal(withoutTemplates('x{a="${v:regex}"}'), 'x{a="${v:regex}"}');
  assert.deepEqual(lintPromql('x{instance=~"$hosts"} * on (instance) group_left y'), []);
});

test('placeholders by context: a duration, a number, a name', () => {
  assert.equal(withoutTemplates('x[$w]'), 'x[9s]');
  assert.equal(withoutTemplates('x > $t'), 'x > 99');
  assert.equal(withoutTemplates('sum($m)'), 'sum(x_)');
});

test('a cell with templates lints clean, and a real error next to them is still found', () => {
  assert.deepEqual(lintCell('%%promql --range 6h\nrate(x[$__rate_interval])'), []);
  const text = '%%promql\nrate(x{a="b" c="d"}[$__rate_interval])';
  const [diagnostic, ...rest] = lintCell(text);
  assert.deepEqual(rest, []);
  assert.match(text.slice(diagnostic.from, diagnostic.to), /a="b" c="d"/);
});
