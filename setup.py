"""What pyproject.toml cannot say: the C reader of samples, and the JupyterLab extension.

The C reader (``sysmon_magic/samples.c``) is ``optional=True``: where no C compiler is at hand
the package installs without it, and ``sysmon_magic.frames_bytes`` reads samples with pandas' CSV
reader instead (the same frames, slower, and holding the GIL for part of the time).

``labextension/`` holds the TypeScript source of ``sysmon-magic-promql`` (the PromQL editor of
``%%promql`` cells). ``build`` first runs ``build_labextension``: when the built extension is
missing or older than its sources, ``npm ci`` and ``npm run build`` make it (Node from Debian:
``scripts/setup.sh`` installs it). The result goes into the wheel under
``share/jupyter/labextensions/sysmon-magic-promql/``, where JupyterLab and Notebook 7 load it
from, so ``pip install`` of the wheel needs no Node. Everything else is in pyproject.toml.

Editable installs (``pip install -e .``) build it too, but setuptools leaves data files out of
editable wheels: ``scripts/setup.sh`` links the built extension into the venv instead, as
``jupyter labextension develop`` would, so that a rebuild shows at the next page load.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from setuptools import Command, Extension, setup
from setuptools.command.build import build

HERE = Path(__file__).resolve().parent
LABEXTENSION = HERE / "labextension"
NAME = "sysmon-magic-promql"
BUILT = LABEXTENSION / "dist" / NAME
INSTALL_DIR = Path("share/jupyter/labextensions") / NAME
# What the built extension is made from: a change to any of them makes it stale.
SOURCES = [
    "src",
    "style",
    "build.js",
    "install.json",
    "package.json",
    "package-lock.json",
    "tsconfig.json",
]


def _newest_source() -> float:
    paths = (LABEXTENSION / name for name in SOURCES)
    files = [f for p in paths for f in ([p] if p.is_file() else p.rglob("*")) if f.is_file()]
    # None at all in an sdist that carries only the built extension: then it is never stale.
    return max((f.stat().st_mtime for f in files), default=0.0)


def labextension_is_built() -> bool:
    """Whether ``labextension/dist`` holds the extension, built after its last source change."""
    marker = BUILT / "package.json"
    return marker.exists() and marker.stat().st_mtime >= _newest_source()


def labextension_data_files() -> list[tuple[str, list[str]]]:
    """``data_files`` for the built extension (paths relative to this file, as setuptools wants)."""
    groups: dict[str, list[str]] = {}
    for path in sorted(BUILT.rglob("*")):
        if path.is_file():
            target = INSTALL_DIR / path.parent.relative_to(BUILT)
            groups.setdefault(str(target), []).append(str(path.relative_to(HERE)))
    return sorted(groups.items())


def _npm(*args: str) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit(
            "Building sysmon-magic needs Node.js and npm for its JupyterLab extension "
            "(labextension/): run scripts/setup.sh, or apt-get install nodejs npm."
        )
    subprocess.run([npm, *args], cwd=LABEXTENSION, check=True)


class BuildLabextension(Command):
    """Build labextension/ with npm when missing or stale; add it to the data files."""

    description = "build the JupyterLab extension (labextension/) when missing or stale"
    user_options: list[tuple[str, str | None, str]] = []  # noqa: RUF012 (distutils API)

    def initialize_options(self) -> None:
        pass

    def finalize_options(self) -> None:
        pass

    def run(self) -> None:
        if not labextension_is_built():
            installed = LABEXTENSION / "node_modules" / ".package-lock.json"
            lock = LABEXTENSION / "package-lock.json"
            if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
                _npm("ci", "--no-audit", "--no-fund")
            _npm("run", "build")
        # After the build: the set of hashed file names is only known now.
        self.distribution.data_files = labextension_data_files()


class Build(build):
    sub_commands = [("build_labextension", None), *build.sub_commands]  # noqa: RUF012


setup(
    ext_modules=[Extension("sysmon_magic.samples", ["sysmon_magic/samples.c"], optional=True)],
    cmdclass={"build": Build, "build_labextension": BuildLabextension},
    data_files=labextension_data_files() if labextension_is_built() else [],
)
