/**
 * Offline lint of a `%%promql` cell: codemirror-promql's own static analysis of the body (the
 * checks of Prometheus' parser: syntax, argument and operand types), moved to cell offsets.
 */
import { Diagnostic } from '@codemirror/lint';
import { ensureSyntaxTree } from '@codemirror/language';
import { EditorState } from '@codemirror/state';
import type { EditorView } from '@codemirror/view';
import { LanguageType, PromQLExtension, promQLLanguage } from '@prometheus-io/codemirror-promql';

import { splitPromqlCell } from './magic';
import { withoutTemplates } from './template';

const bodyLanguage = promQLLanguage(LanguageType.PromQL);
// No remote client and no completion: the linter is pure static analysis, and completion stays
// with the kernel (which knows the connection; the appkey never leaves it).
const analyse = new PromQLExtension().activateCompletion(false).getLinter().promQL();

/** Diagnostics moved by `offset` characters (from body offsets to cell offsets). */
export function shiftDiagnostics(diagnostics: readonly Diagnostic[], offset: number): Diagnostic[] {
  return diagnostics.map(d => ({ ...d, from: d.from + offset, to: d.to + offset }));
}

/** codemirror-promql's diagnostics for a PromQL expression, in its own offsets. */
export function lintPromql(expression: string): readonly Diagnostic[] {
  if (expression.trim() === '') {
    return [];
  }
  let state = EditorState.create({ doc: expression, extensions: bodyLanguage });
  // A new state parses for at most 20 ms and 3,000 characters, then leaves the rest to an
  // editor's background parse, which a lone state never gets: its tree would end early (a busy
  // machine cut `rate(x[5m])` before its `[5m]`), and the analysis would flag what it lacks.
  // Parse it all, then take a state whose syntax tree is the whole one.
  ensureSyntaxTree(state, state.doc.length, 10_000);
  state = state.update({}).state;
  // The analysis reads only `view.state`: a whole EditorView is not needed to lint a string.
  const result = analyse({ state } as EditorView);
  if (!Array.isArray(result)) {
    return []; // HybridLint is synchronous; a future asynchronous one would lint nothing here
  }
  return result;
}

/** The diagnostics of a cell's PromQL body in cell offsets; none for other cells. */
export function lintCell(text: string): Diagnostic[] {
  const cell = splitPromqlCell(text);
  if (cell === null) {
    return [];
  }
  // `$var` and `$__rate_interval` are expanded by the kernel before the query is sent.
  const body = withoutTemplates(text.slice(cell.bodyFrom, cell.bodyTo));
  return shiftDiagnostics(lintPromql(body), cell.bodyFrom);
}
