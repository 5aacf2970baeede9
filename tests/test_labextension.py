"""The PromQL editor's JupyterLab extension travels in the wheel (issue 15).

``pip wheel .`` builds sysmon-magic as a user's pip does; the wheel must carry the prebuilt
``sysmon-magic-promql`` extension where JupyterLab looks (``share/jupyter/labextensions``), and
JupyterLab must find it enabled once the wheel is installed, with no Node anywhere.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NAME = "sysmon-magic-promql"
DATA = f"share/jupyter/labextensions/{NAME}/"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
        check=True,
        timeout=900,  # a stale extension is rebuilt with npm first
    )
    (built,) = out.glob("sysmon_magic-*.whl")
    return built


def test_the_wheel_carries_the_built_labextension(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        prefix = next(
            (n[: n.index(DATA) + len(DATA)] for n in names if DATA in n),
            None,
        )
        assert prefix is not None, f"no {DATA} in {wheel.name}: {names}"
        assert prefix.startswith("sysmon_magic-") and ".data/data/" in prefix, prefix
        package = json.loads(archive.read(prefix + "package.json"))
        install = json.loads(archive.read(prefix + "install.json"))
        assert package["name"] == NAME
        # The entry point JupyterLab loads, and the chunk holding codemirror-promql's parser.
        assert prefix + package["jupyterlab"]["_build"]["load"] in names
        chunks = [n for n in names if n.startswith(prefix + "static/") and n.endswith(".js")]
        assert any(b"PromQL" in archive.read(n) for n in chunks), chunks
    assert install["packageName"] == "sysmon-magic"
    # Nothing from the build tree: sources, node_modules, the unit tests' build.
    assert not [n for n in names if "node_modules" in n or n.endswith(".ts")]


def test_jupyterlab_finds_the_extension_installed_from_the_wheel(
    wheel: Path, tmp_path: Path
) -> None:
    prefix = tmp_path / "prefix"
    # --ignore-installed: without it, pip would uninstall the venv's own sysmon-magic first.
    pip_install = [sys.executable, "-m", "pip", "install", "--no-deps", "--ignore-installed"]
    subprocess.run(
        [*pip_install, "-q", "--prefix", str(prefix), str(wheel)], check=True, timeout=300
    )
    subprocess.run([sys.executable, "-c", "import sysmon_magic"], check=True, cwd=tmp_path)
    share = prefix / "share" / "jupyter"
    assert (share / "labextensions" / NAME / "package.json").is_file()
    env = dict(os.environ)
    env.update(
        {
            "JUPYTER_PATH": str(share),
            "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
            "JUPYTER_DATA_DIR": str(tmp_path / "data"),
        }
    )
    jupyter = Path(sysconfig.get_path("scripts")) / "jupyter"
    listing = subprocess.run(
        [str(jupyter), "labextension", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    text = ANSI.sub("", listing.stdout + listing.stderr)
    # The listing is one block per directory: the wheel's one must hold the extension, enabled.
    block = text.split(str(share / "labextensions"), 1)
    assert len(block) == 2, text
    entry = re.search(rf"^\s+{NAME} v\S+ (\w+) (\w+) \(python, sysmon-magic\)", block[1], re.M)
    assert entry, text
    assert entry.groups() == ("enabled", "OK"), entry.group(0)
