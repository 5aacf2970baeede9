"""%load_ext, %unload_ext and %reload_ext through a real shell: what the extension gives the
shell it takes back, and loading again never doubles it."""

from __future__ import annotations

from IPython.core.completer import provisionalcompleter

from sysmon_magic.magics import SysmonMagics
from tests.conftest import sysmon_magics


def given(shell) -> tuple[int, int, bool]:
    """What the extension has put into the shell: completers, configurables, explorer display."""
    matchers = sum(
        getattr(m, "matcher_identifier", None) == "sysmon_magic.promql"
        for m in shell.Completer.custom_matchers
    )
    configurables = sum(isinstance(c, SysmonMagics) for c in shell.configurables)
    formatter = shell.display_formatter.ipython_display_formatter
    shows_explorer = ("sysmon_magic.explorer", "Explorer") in formatter.deferred_printers
    return matchers, configurables, shows_explorer


def test_unload_takes_back_what_load_gave_and_reload_never_doubles_it(shell, demo_server):
    seen = [given(shell)]
    shell.run_line_magic("unload_ext", "sysmon_magic")
    seen.append(given(shell))
    shell.run_line_magic("load_ext", "sysmon_magic")
    seen.append(given(shell))
    shell.run_line_magic("reload_ext", "sysmon_magic")
    seen.append(given(shell))
    assert seen == [(1, 1, True), (0, 0, False), (1, 1, True), (1, 1, True)]


def test_unload_closes_the_connections_and_a_reload_completes_for_the_new_one(shell, demo_server):
    shell.run_line_magic("sysmon_connect", "demo")
    before = sysmon_magics(shell)
    shell.run_line_magic("reload_ext", "sysmon_magic")
    assert not before.connections and before.connections.current is None
    assert sysmon_magics(shell) is not before
    shell.run_line_magic("sysmon_connect", "demo")
    with provisionalcompleter():
        found = shell.Completer.completions("%promql node_load", len("%promql node_load"))
        assert [c.text for c in found] == ["node_load1", "node_load15", "node_load5"]
