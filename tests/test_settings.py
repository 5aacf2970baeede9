"""The magics' options as traits, on literals: checked when set, durations parsed once, defaults
from the environment read for each instance."""

from __future__ import annotations

import pytest
from traitlets import TraitError

from sysmon_magic.settings import MagicOptions, Seconds, seconds


def test_a_duration_keeps_its_text_and_its_seconds():
    options = MagicOptions(timeout="1m30s")
    assert options.timeout == "1m30s" and isinstance(options.timeout, Seconds)
    assert seconds(options.timeout) == 90.0
    assert seconds(MagicOptions().default_range) == 3600.0  # the default is checked too
    assert options.settings().timeout == 90.0


@pytest.mark.parametrize(
    ("trait", "value", "message"),
    [
        ("timezone", "Asia/Seol", "timezone: Unknown time zone 'Asia/Seol': use an IANA name"),
        ("timeout", "soon", "timeout: Cannot read duration 'soon'"),
        ("max_response_mb", 0, "max_response_mb must be at least 1"),
        ("max_points", 0, "max_points must be at least 1"),
        ("max_parallel", -2, "max_parallel must be at least 1"),
    ],
)
def test_a_bad_value_is_refused_when_set_and_the_old_one_kept(trait, value, message):
    options = MagicOptions()
    before = getattr(options, trait)
    with pytest.raises(TraitError, match=message):
        setattr(options, trait, value)
    assert getattr(options, trait) == before


def test_environment_defaults_are_read_by_each_instance(monkeypatch):
    monkeypatch.delenv("SYSMON_REPLAY", raising=False)
    monkeypatch.delenv("SYSMON_DEMO_GATEWAY", raising=False)
    assert not MagicOptions().replay and not MagicOptions().demo_gateway
    monkeypatch.setenv("SYSMON_REPLAY", "yes")
    monkeypatch.setenv("SYSMON_DEMO_GATEWAY", "1")
    assert MagicOptions().replay and MagicOptions().demo_gateway
    assert not MagicOptions(replay=False).replay  # configured, the environment is not read
