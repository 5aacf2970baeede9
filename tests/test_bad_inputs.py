"""Every bad input is one short typed error (issue 12 §5): the adversarial review's F4, F13, F15.

Through the shell where a user types them (a one-line ``UsageError``, refused before anything is
fetched), on the library where they come from Python. The fast path's cases (a body cut short,
timestamps after 2262, invalid JSON in the samples) are in ``test_frames_bytes.py``.
"""

from __future__ import annotations

import json
import logging

import pytest
from IPython.core.error import UsageError
from traitlets import TraitError

from sysmon_magic.client import Client
from sysmon_magic.errors import SysmonUsageError
from sysmon_magic.recording import FORMAT, Recording
from tests.conftest import sysmon_magics
from tests.test_magics import run


def one_line(shell, line: str) -> str:
    """The message of the UsageError a magic line raises, checked to be one line."""
    with pytest.raises(UsageError) as caught:
        run(shell, line)
    assert "\n" not in str(caught.value)
    return str(caught.value)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        # Each was an OverflowError traceback.
        ("promql --range 1e308 up", "Duration '1e308' is too long: at most 106751d23h47m16s"),
        ("promql --step 1e308 up", "Duration '1e308' is too long"),
        ("promql --timeout 1000y up", "Duration '1000y' is too long"),
        ("promql --timeout 10000000000 up", "Duration '10000000000' is too long"),
        # "Step 0s gives 3,600,000,000,000,000,122,398,...,000 points per series".
        ("promql --step 1e-300 up", "Duration '1e-300' is shorter than 1ms"),
        # "Time '-3153600000000.0' is not a valid unix time in seconds."
        ("promql --range 100000y up", "Duration '100000y' is too long"),
        # Accepted: Prometheus wrapped the time around, and the frame showed 1702.
        ("promql --start 1e10 up", "Time '1e10' is after 2262-04-11T23:47:16Z"),
        ("promql --instant --time 1e10 up", "Time '1e10' is after 2262-04-11T23:47:16Z"),
        # "looks like milliseconds", which a date cannot.
        (
            "promql --start 9999-12-31T23:59:59Z up",
            "Time '9999-12-31T23:59:59Z' is after 2262-04-11T23:47:16Z, the latest time a "
            "pandas DataFrame can hold.",
        ),
        # "Time '-14831769600.0' is not a valid unix time in seconds."
        ("promql --start 1500-01-01T00:00:00Z up", "Time '1500-01-01T00:00:00Z' is before 1677"),
    ],
)
def test_options_out_of_range_are_one_line(connected, line, message):
    assert one_line(connected, line).startswith(message)


@pytest.mark.parametrize("name", ["1abc", "", "if", "None", "a-b"])
def test_o_takes_only_a_name_code_can_use(connected, name):
    # -o if stored the result where no code could reach it.
    message = one_line(connected, f"promql --instant -o '{name}' up")
    assert message == f"-o needs a Python variable name, not {name!r}."


def test_times_before_1970_are_times(connected):
    # Accepted by the date parser, then refused as "not a valid unix time" by the client.
    frame = run(connected, "promql --start 1969-12-31T00:00:00Z --end 1970-01-01T00:00:00Z up")
    assert frame.attrs["promql"]["start"] == -86400


def test_the_longest_timeout_is_taken(connected):
    # Its deadline (plus the 5 s margin) passes threading.TIMEOUT_MAX, the longest wait of the
    # watchdog's Timer and of a socket: both wait at most that.
    frame = run(connected, "promql --instant --timeout 106751d23h47m16s count(node_load1)")
    assert frame["value"].tolist() == [6.0]


@pytest.mark.parametrize(
    ("trait", "value", "message"),
    [
        ("timeout", "1000y", "timeout: Duration '1000y' is too long"),
        ("default_range", "abc", "default_range: Cannot read duration 'abc'"),
        # ZoneInfoNotFoundError at every query; "Asia" was an IsADirectoryError.
        ("timezone", "Mars/Olympus", "timezone: Unknown time zone 'Mars/Olympus'"),
        ("timezone", "Asia", "timezone: Unknown time zone 'Asia'"),
        ("timezone", "Asia/Seol", "timezone: Unknown time zone 'Asia/Seol'"),
        # AttributeError at %sysmon_connect kr1.
        ("region_urls", {"kr1": 5}, "region_urls maps region codes to base URLs as strings"),
        ("region_urls", {1: "http://127.0.0.1:1"}, "not 1: 'http://127.0.0.1:1'"),
        # Accepted, then "No appkey: set $ (or --appkey-env VAR)".
        ("appkey_env", "", "appkey_env names an environment variable, e.g. SYSMON_APPKEY; not ''"),
        ("appkey_env", " A", "appkey_env names an environment variable"),
    ],
)
def test_options_are_refused_when_set(shell, trait, value, message, caplog):
    magics = sysmon_magics(shell)
    before = getattr(magics, trait)
    with pytest.raises(TraitError, match=message):
        setattr(magics, trait, value)
    # %config shows the same as its one line (IPython logs it), and keeps the old value.
    with caplog.at_level(logging.ERROR):
        run(shell, f"config SysmonMagics.{trait} = {value!r}")
    assert message.split(": ", 1)[-1] in caplog.text
    assert getattr(magics, trait) == before


def test_region_codes_are_kept_as_they_are_looked_up(shell):
    magics = sysmon_magics(shell)
    magics.region_urls = {" KR1": "http://127.0.0.1:1"}
    assert magics.region_urls == {"kr1": "http://127.0.0.1:1"}


def test_a_set_of_mixed_types_in_a_variable(connected):
    # Sorting {"a", 1} was a TypeError; now its items' texts are sorted.
    connected.user_ns["t_mixed"] = {"a", 1}
    frame = run(connected, 'promql --instant --show-query up{job=~"$t_mixed"}')
    assert frame.attrs["promql"]["query"] == 'up{job=~"(1|a)"}'


def write(path, document) -> str:
    path.write_text(json.dumps(document))
    return str(path)


DAMAGED = [
    # KeyError 'request' at connect.
    ({"exchanges": [{}]}, "exchange 1 has no request (an endpoint and params)"),
    ({"exchanges": [{"request": {"endpoint": "query", "params": {"a": "b"}}}]}, "no request"),
    (
        {"exchanges": [{"request": {"endpoint": "query", "params": []}, "data": None}]},
        "exchange 1 has no list of warnings and of infos",
    ),
    (
        {
            "exchanges": [
                {
                    "request": {"endpoint": "query_range", "params": [["query", "up"]]},
                    "warnings": [],
                    "infos": [],
                    "data": {
                        "resultType": "matrix",
                        "result": [{"metric": {}, "timestamps_ms": [1, 2], "values": ["1"]}],
                    },
                }
            ]
        },
        "exchange 1 has no data, or a series cut short",
    ),
    # ValueError at connect: could not convert string to float: 'soon'.
    ({"connection": {"now": "soon"}, "exchanges": []}, "connection.now is 'soon', not seconds"),
    ({"connection": {"scrape_interval": "1m"}}, "connection.scrape_interval is '1m'"),
    ({"connection": {"name": 5}}, "connection.name is 5, not a text"),
    ({"connection": [], "exchanges": []}, "its connection or exchanges are not an object"),
]


@pytest.mark.parametrize(("document", "damage"), DAMAGED)
def test_a_damaged_recording_is_one_line(shell, tmp_path, document, damage):
    path = write(tmp_path / "report.promql.json", {"format": FORMAT, **document})
    message = one_line(shell, f"sysmon_connect --replay {path}")
    assert message.startswith(f"The recording {path} is damaged: ")
    assert damage in message
    assert message.endswith(f"record it again with --record {path}.")
    with pytest.raises(SysmonUsageError, match="is damaged"):
        Recording.for_writing(path)  # adding to it: the same check


@pytest.mark.parametrize("where", ["/proc/foo.promql.json", "{tmp}/missing/foo.promql.json"])
def test_a_recording_that_cannot_be_written_is_refused_at_connect(
    shell, demo_server, tmp_path, where
):
    # Connected, then every query was fetched and ended in a FileNotFoundError.
    path = where.format(tmp=tmp_path)
    message = one_line(shell, f"sysmon_connect demo --record {path}")
    assert message.startswith(f"Cannot record to {path}: ")
    assert not sysmon_magics(shell).connections


def test_a_recording_whose_directory_goes_is_one_error(tmp_path):
    (tmp_path / "gone").mkdir()
    recording = Recording.for_writing(tmp_path / "gone" / "r.promql.json")
    (tmp_path / "gone").rmdir()
    with pytest.raises(SysmonUsageError, match=r"^Cannot write the recording .*r\.promql\.json: "):
        recording.store("query", [("query", "up")], {"resultType": "vector", "result": []}, [], [])
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


def test_a_url_with_an_open_bracket_is_a_usage_error(shell):
    # The magic named the connection from the URL first: a raw ValueError "Invalid IPv6 URL".
    message = one_line(shell, "sysmon_connect --url http://[::1")
    assert message.startswith("Cannot use 'http://[::1' as a Prometheus API URL")
    # A ValueError from urlsplit.
    with pytest.raises(SysmonUsageError, match="Cannot use 'http://\\[::1' as a Prometheus API"):
        Client("http://[::1")


@pytest.mark.parametrize("port", ["99999", "abc", "-1", "\u0661\u0662"])
def test_a_port_that_cannot_be_is_refused_at_once(port):
    # It was retried four times and reported as "Cannot connect ... (InvalidURL)" after 3 s.
    with pytest.raises(SysmonUsageError, match="as a Prometheus API URL: give http"):
        Client(f"http://127.0.0.1:{port}")
