"""Median redraw time of the explorer after a picker or slider change (issue 3's target: 100 ms).

20 series x 2,000 points, matplotlib's Agg backend (as in a kernel with the inline backend). A
redraw is everything a change costs the kernel: filtering the frame, drawing into the explorer's
figure, writing the SVG the widget shows, and the summary line. Two baselines, measured in the
same run after each change: bare matplotlib drawing the same visible lines into a new figure as
a PNG (no labels, legend, units or summary), and the explorer's own figure written as a PNG (what
the live image cost before it became an SVG).

    python benchmarks/explorer_redraw.py
"""

from __future__ import annotations

import io
import platform
import statistics
import time

import matplotlib
import numpy as np
import pandas as pd

matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sysmon_magic.explorer import Explorer

SERIES, POINTS, ROUNDS = 20, 2000, 15


def frame() -> pd.DataFrame:
    """A tidy frame shaped like a real answer: diurnal curves with noise, two labels."""
    rng = np.random.default_rng(7)
    times = pd.date_range("2026-11-07", periods=POINTS, freq="1min", tz="UTC")
    phase = np.arange(POINTS) / 1440 * 2 * np.pi
    rows = []
    for i in range(SERIES):
        values = 1 + 0.5 * np.sin(phase + i) + rng.normal(0, 0.03, POINTS)
        rows.append(
            pd.DataFrame(
                {
                    "timestamp": times,
                    "instance": f"host-{i % 10}",
                    "mode": f"m{i // 10}",
                    "value": values,
                }
            )
        )
    result = pd.concat(rows, ignore_index=True)
    result.attrs["promql"] = {"query": "sum by (instance, mode) (rate(cpu_seconds_total[5m]))"}
    return result


def baseline(wide: pd.DataFrame) -> float:
    started = time.perf_counter()
    figure = Figure(figsize=(10, 3.6), dpi=96)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    for column in range(wide.shape[1]):
        axes.plot(wide.index.tz_localize(None).to_numpy(), wide.iloc[:, column].to_numpy())
    figure.savefig(io.BytesIO(), format="png")
    return time.perf_counter() - started


def main() -> None:
    data = frame()
    explorer = Explorer(data)
    changes = [
        lambda: setattr(explorer._pickers["instance"], "value", ("host-1", "host-2")),
        lambda: setattr(explorer._pickers["instance"], "value", ()),
        lambda: setattr(explorer._slider, "index", (100, 399)),
        lambda: setattr(explorer._slider, "index", (0, 399)),
    ]
    redraws, bare_pngs, explorer_pngs = [], [], []
    for round_ in range(ROUNDS):
        started = time.perf_counter()
        changes[round_ % len(changes)]()
        redraws.append(time.perf_counter() - started)
        bare_pngs.append(baseline(explorer._visible_wide()))
        started = time.perf_counter()
        explorer.png  # noqa: B018 -- the property draws the PNG
        explorer_pngs.append(time.perf_counter() - started)
    redraw = statistics.median(redraws)
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}"
    )
    print(f"{'measure':44} {'median':>9} {'baseline':>9} {'ratio':>6}  target")
    for name, times in [
        ("bare matplotlib, new figure, PNG", bare_pngs),
        ("the explorer's figure as a PNG", explorer_pngs),
    ]:
        base = statistics.median(times)
        print(
            f"{'explorer redraw, 20 x 2,000 points, Agg':44} {redraw * 1000:7.1f}ms "
            f"{base * 1000:7.1f}ms {redraw / base:6.2f}  <= 100 ms (baseline: {name})"
        )


if __name__ == "__main__":
    main()
