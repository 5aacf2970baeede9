import { strict as assert } from 'node:assert';
import { test } from 'node:test';

import { language } from '@codemirror/language';
import { EditorState } from '@codemirror/state';

import { EditorModel, promqlCells } from '../src/cell';
import { promqlCellLanguage } from '../src/language';

function model(initial: string, ipython = true): EditorModel {
  return { initial, isIPython: () => ipython, onLanguageChange: () => () => undefined };
}

const create = (doc: string, m: EditorModel = model(doc)) =>
  EditorState.create({ doc, extensions: promqlCells(m) });

const isPromql = (state: EditorState) => state.facet(language) === promqlCellLanguage;

test('an editor made on a %%promql cell starts in PromQL; others do not', () => {
  assert.equal(isPromql(create('%%promql --range 1h\nup')), true);
  assert.equal(isPromql(create('x = 1')), false);
});

test('a cell that gains its %%promql line switches, and back when it loses it', () => {
  let state = create('sum(up)');
  state = state.update({ changes: { from: 0, insert: '%%promql\n' } }).state;
  assert.equal(isPromql(state), true);
  state = state.update({ changes: { from: 0, to: 9 } }).state;
  assert.equal(state.doc.toString(), 'sum(up)');
  assert.equal(isPromql(state), false);
  // Typing below the magic line keeps the mode.
  state = state.update({ changes: { from: 0, insert: '%%promql\n' } }).state;
  state = state.update({ changes: { from: state.doc.length, insert: ' by (job)' } }).state;
  assert.equal(isPromql(state), true);
});

test('Markdown, raw and other languages are never PromQL', () => {
  let state = create('%%promql\nup', model('%%promql\nup', false));
  assert.equal(isPromql(state), false);
  state = state.update({ changes: { from: state.doc.length, insert: '\n' } }).state;
  assert.equal(isPromql(state), false);
});
