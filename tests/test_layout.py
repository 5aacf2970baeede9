"""The package's layers, read from its source: only the glue modules import IPython."""

from __future__ import annotations

import ast
from pathlib import Path

import sysmon_magic

PACKAGE = Path(sysmon_magic.__file__).parent


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_only_the_glue_modules_import_ipython():
    importers = {
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if any(name.split(".")[0] == "IPython" for name in imported(path))
    }
    assert importers == {"connections.py", "display.py", "magics.py"}


def test_no_module_is_over_460_lines():
    # DESIGN §4: no module over ~450 lines; the demo's data generator is the one exception.
    long = {
        path.relative_to(PACKAGE).as_posix(): lines
        for path in PACKAGE.rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > 460
    }
    assert long.keys() <= {"demo/data.py"}, long
