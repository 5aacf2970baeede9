/**
 * The CodeMirror extension of a notebook cell's editor: while the cell's first line is `%%promql`,
 * the cell's language is PromQL (ahead of the notebook's Python) and the body is linted; the
 * moment the line goes, or comes, the editor switches.
 */
import { syntaxHighlighting } from '@codemirror/language';
import { linter } from '@codemirror/lint';
import { Compartment, EditorState, Extension, Prec, Text } from '@codemirror/state';
import { ViewPlugin } from '@codemirror/view';

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

/** What the extension needs to know of the editor's model (a cell's, a console prompt's). */
export interface EditorModel {
  /** The model's text when the editor is made. */
  initial: string;
  /** Whether the editor holds IPython code now (not Markdown, raw text or another language). */
  isIPython(): boolean;
  /** Call `listener` when that may have changed; returns how to stop. */
  onLanguageChange(listener: () => void): () => void;
}

/** The extension for one editor: PromQL while its text is a `%%promql` cell of IPython code. */
export function promqlCells(model: EditorModel): Extension {
  const mode = new Compartment();
  const wanted = (doc: Text): boolean => model.isIPython() && isPromqlDoc(doc);
  const switchTo = (state: EditorState, on: boolean) =>
    on === (mode.get(state) === promqlMode)
      ? null
      : { effects: mode.reconfigure(on ? promqlMode : []) };
  return [
    mode.of(wanted(Text.of(model.initial.split('\n'))) ? promqlMode : []),
    EditorState.transactionExtender.of(tr =>
      tr.docChanged ? switchTo(tr.startState, wanted(tr.newDoc)) : null
    ),
    // A notebook learns its kernel's language after its cells are drawn: switch then, too.
    ViewPlugin.define(view => {
      const stop = model.onLanguageChange(() => {
        const spec = switchTo(view.state, wanted(view.state.doc));
        if (spec !== null) {
          view.dispatch(spec);
        }
      });
      return { destroy: stop };
    })
  ];
}
