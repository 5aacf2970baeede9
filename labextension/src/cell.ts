/**
 * The CodeMirror extension of a notebook cell's editor: while the cell's first line is `%%promql`,
 * the cell's language is PromQL (ahead of the notebook's Python) and the body is linted; the
 * moment the line goes, or comes, the editor switches.
 */
import { syntaxHighlighting } from '@codemirror/language';
import { linter } from '@codemirror/lint';
import { Compartment, EditorState, Extension, Prec, Text } from '@codemirror/state';

import { promqlCellLanguage, promqlClasses } from './language';
import { lintCell } from './lint';
import { splitPromqlCell } from './magic';

/** Lint a moment after typing stops, as Prometheus' editor does. */
const LINT_DELAY_MS = 300;

const promqlMode: Extension = [
  // Highest: the notebook's own language (IPython) stays configured, and comes back as soon as
  // this compartment is emptied.
  Prec.highest(promqlCellLanguage),
  syntaxHighlighting(promqlClasses),
  linter(view => lintCell(view.state.doc.toString()), { delay: LINT_DELAY_MS })
];

/** Whether a document is a `%%promql` cell: only its first lines need to be read. */
export function isPromqlDoc(doc: Text): boolean {
  let head = '';
  for (let n = 1; n <= doc.lines; n++) {
    const line = doc.line(n).text;
    head += line + '\n';
    if (line.trim() !== '') {
      break;
    }
  }
  return splitPromqlCell(head) !== null;
}

/** The extension for one editor whose text starts as `initial`. */
export function promqlCells(initial: string): Extension {
  const mode = new Compartment();
  const modeFor = (on: boolean): Extension => (on ? promqlMode : []);
  return [
    mode.of(modeFor(splitPromqlCell(initial) !== null)),
    EditorState.transactionExtender.of(tr => {
      if (!tr.docChanged) {
        return null;
      }
      const on = isPromqlDoc(tr.newDoc);
      const was = mode.get(tr.startState) === promqlMode;
      return on === was ? null : { effects: mode.reconfigure(modeFor(on)) };
    })
  ];
}
