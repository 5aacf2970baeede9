/**
 * sysmon-magic's JupyterLab 4 / Notebook 7 extension: `%%promql` cells are edited as PromQL.
 *
 * One CodeMirror extension for every code editor of a Python notebook or console: see cell.ts.
 * Nothing here talks to a server; tab completion is still the kernel's.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { EditorExtensionRegistry, IEditorExtensionRegistry } from '@jupyterlab/codemirror';

import { promqlCells } from './cell';

/** Editors this applies to: IPython code (notebook cells, console prompts), not Markdown or raw. */
const IPYTHON_MIME = /^text\/x-i?python$/;

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'sysmon-magic-promql:plugin',
  description: '%%promql cells highlighted and linted as PromQL (codemirror-promql)',
  autoStart: true,
  requires: [IEditorExtensionRegistry],
  activate: (_app: JupyterFrontEnd, extensions: IEditorExtensionRegistry): void => {
    extensions.addExtension({
      name: 'sysmon-magic-promql:cells',
      factory: ({ model }) =>
        EditorExtensionRegistry.createImmutableExtension(
          promqlCells({
            initial: model.sharedModel.getSource(),
            isIPython: () => IPYTHON_MIME.test(model.mimeType),
            onLanguageChange: listener => {
              model.mimeTypeChanged.connect(listener);
              return () => model.mimeTypeChanged.disconnect(listener);
            }
          })
        )
    });
  }
};

export default plugin;
