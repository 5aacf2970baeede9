"""The provenance record and the one formatter of windows, on literals."""

from __future__ import annotations

import pandas as pd
import pytest

from sysmon_magic.provenance import (
    Provenance,
    describe_window,
    provenance_line,
    series_count,
    summarize,
)

START, END = 1_794_178_800.0, 1_794_182_400.0  # 2026-11-08T23:00:00Z, 2026-11-09T00:00:00Z


@pytest.mark.parametrize(
    ("record", "options", "text"),
    [
        (
            Provenance(start=START, end=END, step=60),
            {},
            "2026-11-08T23:00:00Z to 2026-11-09T00:00:00Z, step 1m",
        ),
        (
            Provenance(start=START, end=END, step=60),
            {"sep": " · ", "timezone": "Asia/Seoul"},
            "2026-11-08T23:00:00Z to 2026-11-09T00:00:00Z "
            "(2026-11-09 08:00 to 2026-11-09 09:00 Asia/Seoul) · step 1m",
        ),
        (
            Provenance(start=START, end=END, step=60),
            {"step": False},
            "2026-11-08T23:00:00Z to 2026-11-09T00:00:00Z",
        ),
        (Provenance(time=END), {}, "at 2026-11-09T00:00:00Z"),
        (Provenance(), {}, ""),
    ],
)
def test_one_formatter_says_every_window(record, options, text):
    assert describe_window(record, **options) == text


def test_the_record_reads_the_attrs_the_client_writes_and_ignores_the_rest():
    frame = pd.DataFrame({"value": [1.0]})
    frame.attrs["promql"] = {"query": "up", "time": END, "replayed": True, "later": 1}
    record = Provenance.of(frame)
    assert (record.query, record.time, record.replayed, record.is_range) == ("up", END, True, False)
    assert Provenance.of(pd.DataFrame()) == Provenance()


def test_the_attrs_leave_out_what_is_unset_and_read_back_the_same():
    record = Provenance(query="up", time=END, source="demo", elapsed=0.5)
    attrs = record.to_attrs()
    assert "start" not in attrs and "legend" not in attrs and attrs["time"] == END
    assert Provenance.from_attrs(attrs) == record
    with pytest.raises(TypeError):
        Provenance(windows=3)  # type: ignore[call-arg]  # a key the record does not know


def tidy(rows: int) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "timestamp": pd.to_datetime([START + 60 * i for i in range(rows)], unit="s", utc=True),
            "instance": ["a"] * rows,
            "value": [1.0] * rows,
        }
    )
    frame.attrs["promql"] = {
        "start": START,
        "end": END,
        "step": 60.0,
        "headers": {"X-Scope-OrgID": "team-a"},
        "params": {"dedup": "false"},
        "elapsed": 0.125,
        "replayed": False,
    }
    return frame


def test_summaries_count_series_and_samples():
    assert series_count(tidy(0)) == 0 and series_count(tidy(3)) == 1
    assert summarize(tidy(1)) == (
        "1 series, 1 sample; 2026-11-08T23:00:00Z to 2026-11-09T00:00:00Z, step 1m"
    )


def test_the_provenance_line_says_source_extras_window_size_and_liveness():
    assert provenance_line(tidy(2), "demo", "the local demo server") == (
        "demo (the local demo server) · X-Scope-OrgID: team-a · dedup=false · "
        "2026-11-08T23:00:00Z to 2026-11-09T00:00:00Z · step 1m · 1 series, 2 samples · "
        "live, 0.12 s"
    )
