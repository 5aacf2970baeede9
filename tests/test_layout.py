"""The package's layers and boundaries, read from its source: only the glue modules import
IPython, and no module (tests and benchmarks included) uses another module's private names."""

from __future__ import annotations

import ast
import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

import sysmon_magic
from sysmon_magic.magics import SysmonMagics

PACKAGE = Path(sysmon_magic.__file__).parent
ROOT = PACKAGE.parent
SCANNED = ("sysmon_magic", "tests", "benchmarks")


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


# -- no private name across modules (DESIGN §4) ---------------------------------------------------

#: Underscored names that are public by convention, whatever object they are read from.
CONVENTIONS = {
    # namedtuple's own API is underscored so that it cannot clash with a field's name.
    "_asdict": "namedtuple",
    "_field_defaults": "namedtuple",
    "_fields": "namedtuple",
    "_make": "namedtuple",
    "_replace": "namedtuple",
}
#: IPython's display protocol: ``_repr_html_``, ``_repr_mimebundle_``, ``_ipython_display_``...
DISPLAY_HOOK = re.compile(r"_(repr|ipython)_\w+_")
#: ``(module, name)``: the standard library's documented underscored functions.
STDLIB = {
    ("os", "_exit"): "a child process leaves without the parent's atexit handlers and buffers",
    ("sys", "_getframe"): "documented in sys: a caller's frame, sys._getframe(1)",
}
#: ``(file, name)``: third-party privates that no public API stands in for.
THIRD_PARTY = {
    # urllib3 keeps http.client's response only as _fp; its readinto reads a chunked or gzip body
    # into one buffer (bodies.read_body), where urllib3's own read copies it 1 MB at a time.
    ("sysmon_magic/bodies.py", "_fp"): "urllib3.HTTPResponse._fp",
}


class Use(NamedTuple):
    """One use of a private name that may belong to another module."""

    path: str
    line: int
    name: str
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def private(name: str) -> bool:
    """``_x`` or ``__x``; not a dunder, nor ``_`` alone."""
    return name.startswith("_") and name.strip("_") != "" and not name.endswith("__")


def is_self(node: ast.expr) -> bool:
    """``self``, ``cls`` or ``super()``: the object's own class (or its base's)."""
    if isinstance(node, ast.Call):
        return isinstance(node.func, ast.Name) and node.func.id == "super" and not node.args
    return isinstance(node, ast.Name) and node.id in ("self", "cls")


def own_names(tree: ast.Module) -> set[str]:
    """What a module defines itself: functions, classes, variables (class attributes among
    them), attributes set on ``self``/``cls``, and ``__slots__``."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            if is_self(node.value):
                names.add(node.attr)
        elif isinstance(node, ast.Assign) and "__slots__" in map(ast.unparse, node.targets):
            names.update(
                c.value
                for c in ast.walk(node.value)
                if isinstance(c, ast.Constant) and isinstance(c.value, str)
            )
    return names


def source_module(node: ast.ImportFrom, path: str) -> str:
    """The absolute name of the module ``node`` imports from (``from . import x`` too)."""
    if not node.level:
        return node.module or ""
    package = ".".join(Path(path).with_suffix("").parts[:-1])
    return importlib.util.resolve_name("." * node.level + (node.module or ""), package)


def is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a parent that is not a package: `from typing import Any`
        return False


def module_names(tree: ast.Module, path: str) -> set[str]:
    """The names a module binds to other modules: ``import x.y``, ``from x import y`` (a module)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.asname or alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = source_module(node, path)
            names.update(
                alias.asname or alias.name
                for alias in node.names
                if is_module(f"{module}.{alias.name}")
            )
    return names


def root_name(node: ast.expr) -> str | None:
    """``a`` of ``a.b.c``; None for a call, a subscript..."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


#: getattr(x, "_y") and its kin, monkeypatch.setattr(x, "_y", v), mock.patch.object(x, "_y").
NAMING_CALLS = {"getattr", "setattr", "hasattr", "delattr", "object"}
#: A dotted path to a private: mock.patch("sysmon_magic.client._number"), monkeypatch.setattr.
DOTTED = re.compile(r"(?:sysmon_magic|tests|benchmarks)(?:\.\w+)+")


def private_uses(path: str, source: str) -> Iterator[Use]:
    """Where the module at ``path`` (relative to the repository) uses a private name that is not
    its own, or finds the magics by their class name.

    An attribute read as ``x._y`` belongs to another module when ``x`` is a module, or an object
    that is neither ``self``/``cls`` nor a name the module holds whose attribute it defines itself
    (heuristic: a module that reads ``other._buf`` and sets ``self._buf`` owns the class).
    """
    tree = ast.parse(source)
    own, modules = own_names(tree), module_names(tree, path)

    def foreign(base: ast.expr, name: str) -> bool:
        if is_self(base) or name in CONVENTIONS or DISPLAY_HOOK.fullmatch(name):
            return False
        root = root_name(base)
        if root in modules:
            return (ast.unparse(base), name) not in STDLIB
        return not (isinstance(base, ast.Name) and name in own)

    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.ImportFrom):
            module = source_module(node, path)
            for alias in node.names:
                if private(alias.name):
                    yield Use(path, line, alias.name, f"from {module} import {alias.name}")
        elif isinstance(node, ast.Attribute) and private(node.attr):
            if foreign(node.value, node.attr):
                yield Use(path, line, node.attr, f"{ast.unparse(node)[:60]}")
        elif isinstance(node, ast.Call) and len(node.args) >= 2:
            func, (base, name) = node.func, node.args[:2]
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if (
                called in NAMING_CALLS
                and isinstance(name, ast.Constant)
                and isinstance(name.value, str)
                and private(name.value)
                and foreign(base, name.value)
            ):
                yield Use(path, line, name.value, f"{ast.unparse(node)[:60]}")
        elif isinstance(node, ast.Subscript | ast.Compare):
            # The magics are found by type (SysmonMagics.unload, isinstance), not by the class's
            # name as IPython's registry keys them: the name is no API, the class is.
            if isinstance(node, ast.Subscript):
                keys = [node.slice]
            else:
                keys = [node.left, *node.comparators]
            if any(isinstance(k, ast.Constant) and k.value == SysmonMagics.__name__ for k in keys):
                yield Use(path, line, SysmonMagics.__name__, f"{ast.unparse(node)[:60]}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            last = node.value.rsplit(".", 1)[-1]
            if DOTTED.fullmatch(node.value) and private(last):
                yield Use(path, line, last, f"{node.value!r}")


def scanned_uses() -> list[Use]:
    return [
        use
        for folder in SCANNED
        for file in sorted((ROOT / folder).rglob("*.py"))
        for use in private_uses(file.relative_to(ROOT).as_posix(), file.read_text())
    ]


def test_no_module_uses_another_modules_private_names():
    uses = [use for use in scanned_uses() if (use.path, use.name) not in THIRD_PARTY]
    if uses:
        pytest.fail(
            "Private names of another module (give them a public name in their home):\n"
            + "\n".join(map(str, sorted(uses)))
        )


@pytest.mark.parametrize(
    "source",
    [
        "from sysmon_magic.client import _number",
        "from .client import _number",
        "from sysmon_magic import frames_bytes\nframes_bytes._fast(b'', 'tidy')",
        "import sysmon_magic.client\nsysmon_magic.client._number(1.0)",
        "def f(client):\n    return client._call()",
        "import os\nos._gateway",
        "getattr(recording, '_exchanges')",
        "mock.patch.object(frames_bytes, '_plain')",
        "monkeypatch.setattr('sysmon_magic.client._number', str)",
        "Recording(path)._write()",
        "self.cancel._add(self)",
        "shell.magics_manager.registry['SysmonMagics']",
        "type(c).__name__ == 'SysmonMagics'",
    ],
)
def test_the_scan_finds_a_private_of_another_module(source):
    assert list(private_uses("tests/test_example.py", source))


@pytest.mark.parametrize(
    "source",
    [
        "class A:\n    def f(self):\n        return self._x, cls._y, super()._z",
        "class A:\n    _x = 1\n\ndef f(a: A):\n    return a._x",  # the module's own class
        "import os\nos._exit(0)",
        "frame._replace(envelope=None)",
        "explorer._repr_mimebundle_()",
        "def f(self):\n    return getattr(self, '_view', None)",
        "from sysmon_magic.client import __all__",
        "shell.config.SysmonMagics",
    ],
)
def test_the_scan_lets_own_names_and_conventions_be(source):
    assert not list(private_uses("tests/test_example.py", source))


def test_no_module_is_over_460_lines():
    # DESIGN §4: no module over ~450 lines; the demo's data generator is the one exception.
    long = {
        path.relative_to(PACKAGE).as_posix(): lines
        for path in PACKAGE.rglob("*.py")
        if (lines := len(path.read_text().splitlines())) > 460
    }
    assert long.keys() <= {"demo/data.py"}, long


# -- core errors speak in API terms (DESIGN §4) ---------------------------------------------------

#: What may name a magic's --flags in its messages: the glue, the magics' own option parsing and
#: settings, and the command lines of their own (``sysmon-magic demo --reset``, Prometheus' flags).
FLAG_SPEAKERS = ("magics.py", "connections.py", "display.py", "lineparse.py", "settings.py")
OWN_COMMAND_LINES = ("cli.py", "demo/")
FLAG = re.compile(r"(?<![\w-])--[a-z][\w-]*")


def error_texts(tree: ast.Module) -> set[tuple[int, str]]:
    """The texts of what a module raises, and of the errors it makes (``damaged(...)``)."""
    texts = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and node.exc is not None:
            made = node.exc
        elif isinstance(node, ast.Call) and (root_name(node.func) or "").endswith("Error"):
            made = node
        else:
            continue
        texts.update(
            (part.lineno, part.value)
            for part in ast.walk(made)
            if isinstance(part, ast.Constant) and isinstance(part.value, str)
        )
    return texts


def flag_uses() -> set[tuple[str, str, int]]:
    return {
        (name, flag, line)
        for path in PACKAGE.rglob("*.py")
        if not (name := path.relative_to(PACKAGE).as_posix()).startswith(
            FLAG_SPEAKERS + OWN_COMMAND_LINES
        )
        for line, text in error_texts(ast.parse(path.read_text()))
        for flag in FLAG.findall(text)
    }


def test_core_errors_name_parameters_not_the_magics_flags():
    # The core says timeout=; the magics' UsageError says --timeout (lineparse.magic_terms).
    found = flag_uses()
    assert not found, f"name the parameter (timeout=), not the flag: {sorted(found)}"


def test_the_flag_scan_finds_a_flag_in_a_raise():
    source = 'def f():\n    raise SysmonUsageError(f"use --step {x} or more")\n'
    assert error_texts(ast.parse(source)) == {(2, "use --step "), (2, " or more")}
    assert FLAG.findall("use --step 1s, not x--y or a -- b") == ["--step"]


# -- the README's Layout section names every module -----------------------------------------------


def layout_section() -> str:
    readme = (ROOT / "README.md").read_text()
    return readme.split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]


def test_the_readmes_layout_names_every_module():
    # By its path (`frames.py`, `demo/gateway.py`), or inside a package that the section
    # describes module by module, by its name (grafana's `model`); a package by its folder.
    layout = layout_section()

    def named(path: Path) -> bool:
        relative = path.relative_to(PACKAGE)
        if relative.name == "__init__.py":
            folder = relative.parent.as_posix()
            return folder == "." or f"`{folder}/" in layout or f"`sysmon_magic/{folder}/" in layout
        return any(
            f"`{name}`" in layout or f"`{name}:" in layout
            for name in (relative.as_posix(), relative.name, relative.stem)
        )

    modules = sorted([*PACKAGE.rglob("*.py"), *PACKAGE.glob("*.c")])
    missing = [path.relative_to(PACKAGE).as_posix() for path in modules if not named(path)]
    assert not missing, f"name these in README.md's Layout section: {missing}"
