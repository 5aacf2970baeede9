"""Real servers for the integration tests: the demo Prometheus, an NHN-style gateway in front of
it, and an IPython shell with the extension loaded."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings
from IPython.core.interactiveshell import InteractiveShell

from sysmon_magic import demo
from sysmon_magic.demo.gateway import Gateway
from sysmon_magic.magics import SysmonMagics

# Property tests: "ci" (the default) runs 2,000 examples per test, within CI's time; "long" is
# for a deeper local run: HYPOTHESIS_PROFILE=long bash scripts/test.sh -k properties
_PROPERTY_SETTINGS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
}
settings.register_profile("ci", max_examples=2_000, **_PROPERTY_SETTINGS)
settings.register_profile("long", max_examples=20_000, **_PROPERTY_SETTINGS)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: The appkey the gateway accepts; tests check it never shows up anywhere.
CANARY_APPKEY = "canary-appkey-7f3a9c1e5b2d4068"
#: An appkey the gateway knows but whose project is not accessible (403).
FORBIDDEN_APPKEY = "forbidden-appkey-0c9d8e7f6a5b4c3d"


@pytest.fixture(scope="session")
def demo_server() -> demo.DemoServer:
    """The local demo Prometheus (started once, or reused if already running)."""
    return demo.start()


@pytest.fixture(scope="session")
def gateway(demo_server: demo.DemoServer) -> Iterator[Gateway]:
    """An NHN-style gateway in front of the demo Prometheus, on a free loopback port."""
    with Gateway(demo_server.url, [CANARY_APPKEY], [FORBIDDEN_APPKEY]) as running:
        yield running


@pytest.fixture(scope="session")
def _shell() -> InteractiveShell:
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "sysmon_magic")
    return shell


@pytest.fixture
def shell(_shell: InteractiveShell, monkeypatch: pytest.MonkeyPatch) -> Iterator[InteractiveShell]:
    """The session's shell with no connections, default options, and no appkey in the env."""
    monkeypatch.delenv("SYSMON_APPKEY", raising=False)
    yield _shell
    magics = sysmon_magics(_shell)  # after the test: a test may have reloaded the extension
    magics.connections.clear()  # closes them
    for trait in ("region_urls", "default_range", "max_points", "default_format", "timeout"):
        magics.set_trait(trait, magics.trait_defaults(trait))
    for name in [n for n in _shell.user_ns if n.startswith("t_")]:
        del _shell.user_ns[name]


@pytest.fixture
def connected(shell: InteractiveShell, demo_server: demo.DemoServer) -> InteractiveShell:
    """The shell, connected to the demo server."""
    shell.run_line_magic("sysmon_connect", "demo")
    return shell


def sysmon_magics(shell: InteractiveShell) -> SysmonMagics:
    """The extension's Magics instance in ``shell``: found by type, as ``%unload_ext`` finds it."""
    (magics,) = (c for c in shell.configurables if isinstance(c, SysmonMagics))
    return magics


@pytest.fixture
def canary_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("SYSMON_APPKEY", CANARY_APPKEY)
    return CANARY_APPKEY
