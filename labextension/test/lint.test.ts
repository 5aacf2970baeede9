import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import { lintCell, lintPromql, shiftDiagnostics } from '../src/lint';

test('a valid query has no diagnostics', () => {
  assert.deepEqual(
    lintPromql('sum by (instance) (rate(http_requests_total{code=~"5.."}[5m]))'),
    []
  );
  assert.deepEqual(lintPromql('  \n'), []);
});

test('a long body is parsed to its end before it is analysed', () => {
  // Past the 3,000 characters a new state parses by itself: `rate()` of an unparsed
  // `x[5m]` was a vector there.
  const long = Array.from({ length: 200 }, (_, i) => `rate(metric_${i}{job="a"}[5m])`).join(' or ');
  assert.ok(long.length > 3000);
  assert.deepEqual(lintPromql(long), []);
  assert.equal(lintPromql(`${long} or rate(x)`).length, 1);
});

test('codemirror-promql finds a type error, in body offsets', () => {
  const [diagnostic, ...rest] = lintPromql('rate(x)');
  assert.deepEqual(rest, []);
  assert.equal(diagnostic.severity, 'error');
  assert.match(diagnostic.message, /expected type matrix in call to function "rate", got vector/);
  assert.deepEqual([diagnostic.from, diagnostic.to], [5, 6]); // the `x`
});

test('a syntax error in the middle is flagged', () => {
  const diagnostics = lintPromql('x{a="b" c="d"}');
  assert.equal(diagnostics.length, 1);
  assert.equal(diagnostics[0].message, 'unexpected expression');
});

test('shiftDiagnostics moves every range and keeps the rest', () => {
  const moved = shiftDiagnostics([{ from: 1, to: 3, severity: 'warning', message: 'm' }], 10);
  assert.deepEqual(moved, [{ from: 11, to: 13, severity: 'warning', message: 'm' }]);
});

test('lintCell lints the body only, in cell offsets; the magic line is not PromQL', () => {
  const text = '%%promql --range 6h -o df\nrate(x)';
  const [diagnostic] = lintCell(text);
  assert.equal(text.slice(diagnostic.from, diagnostic.to), 'x');
  assert.deepEqual(lintCell('%%promql --range 6h -o df\nrate(x[5m])'), []);
  assert.deepEqual(lintCell('%%promql --range 6h'), []);
});

test('lintCell leaves other cells alone', () => {
  assert.deepEqual(lintCell('rate(x)'), []);
  assert.deepEqual(lintCell('import math\nmath.floor(1.5)'), []);
});
