// Builds the prebuilt extension into dist/sysmon-magic-promql (package.json's outputDir).
//
// @jupyterlab/builder (webpack) rather than @jupyter/builder (rspack): the latter needs Node
// 20.19 or later, and Debian 12's nodejs is 18. The builder wants a directory holding the
// JupyterLab core's package.json (which packages are shared with the application, which are
// singletons): @jupyterlab/core-meta publishes that file, so no JupyterLab install is needed.
// install.json, copied last, is how `jupyter labextension list` names the package that ships it.
'use strict';
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const core = path.join(__dirname, 'build-core');
fs.mkdirSync(core, { recursive: true });
fs.copyFileSync(
  require.resolve('@jupyterlab/core-meta/core.package.json'),
  path.join(core, 'package.json')
);
const builder = require.resolve('@jupyterlab/builder/lib/build-labextension.js');
execFileSync(process.execPath, [builder, '--core-path', core, __dirname], { stdio: 'inherit' });
const output = path.join(__dirname, require('./package.json').jupyterlab.outputDir);
fs.copyFileSync(path.join(__dirname, 'install.json'), path.join(output, 'install.json'));
