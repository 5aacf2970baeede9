"""binder/: run postBuild and start as repo2docker would, in a temporary environment.

No Docker here, so the image is stood in for by a virtualenv that sees this one's packages
(postBuild's ``pip install .`` then has nothing to download) and an empty cache directory, so
that postBuild really generates and backfills the demo data.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHECK = """
import json, sys, urllib.request
from sysmon_magic import demo
server = demo.running()
assert server is not None, "start did not leave the demo server running"
url = server.url + "/api/v1/query?query=count(node_uname_info)&time=" + str(server.now)
answer = json.load(urllib.request.urlopen(url, timeout=30))
# The server that start execs reads the same config: JupyterLab without its news prompt.
from jupyterlab_server.config import get_static_page_config
disabled = get_static_page_config().get("disabledExtensions", {})
assert disabled.get("@jupyterlab/apputils-extension:announcements"), disabled
print(answer["data"]["result"][0]["value"][1])
"""


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    env_dir = tmp_path / "env"
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(env_dir)
    # The new env's python sees this interpreter's site-packages through a .pth file, so that
    # pip and the dependencies are there without a download.
    site = next((env_dir / "lib").glob("python3*/site-packages"))
    (site / "outer.pth").write_text("\n".join(p for p in sys.path if p.endswith("site-packages")))
    env = {
        **os.environ,
        "PATH": f"{env_dir / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        # pip keeps its own cache, so the build backend (setuptools) comes from it, not a download.
        "PIP_CACHE_DIR": str(Path.home() / ".cache" / "pip"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    env.pop("VIRTUAL_ENV", None)
    return env


def test_postbuild_then_start_bring_the_demo_up(environment: dict[str, str], tmp_path: Path):
    repo = tmp_path / "repo"
    shutil.copytree(ROOT, repo, ignore=shutil.ignore_patterns(".venv", ".git", "test-artifacts"))
    run = {"cwd": repo, "env": environment, "capture_output": True, "text": True, "timeout": 600}
    built = subprocess.run(["bash", "binder/postBuild"], **run)
    assert built.returncode == 0, built.stderr[-2000:]
    assert list((tmp_path / "cache" / "sysmon-magic").glob("demo-*/blocks/*")), "no cached blocks"
    try:
        started = subprocess.run(["bash", "binder/start", "python", "-c", CHECK], **run)
        assert started.returncode == 0, started.stderr[-2000:]
        assert started.stdout.strip().splitlines()[-1] == "6"
    finally:
        subprocess.run(["sysmon-magic", "demo", "--stop"], **run)
