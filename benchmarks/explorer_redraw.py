"""Median redraw time of the explorer after a picker or slider change (issue 3's target: 100 ms).

20 series x 2,000 points, matplotlib's Agg backend (as in a kernel with the inline backend). A
redraw is everything a change costs the kernel: filtering the frame, drawing into the explorer's
figure, encoding the PNG the widget shows, and the summary line. Measured in the same run after
each change: a baseline, bare matplotlib drawing the same visible lines into a new figure as a
PNG (no labels, legend, units or summary); and a floor, Agg drawing those lines alone (no axes,
no text, no PNG), which no redraw of them can beat.

    python benchmarks/explorer_redraw.py
"""

from __future__ import annotations

import io
import platform
import statistics
import time

import matplotlib
import matplotlib.dates as mdates
import numpy as np
import pandas as pd

matplotlib.use("Agg")

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from sysmon_magic.explorer import Explorer
from sysmon_magic.frames import to_wide

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


def lines_alone(wide: pd.DataFrame, figure: Figure) -> float:
    """Agg drawing the visible lines alone into a kept figure (the axes switched off)."""
    axes = figure.axes[0]
    for line in list(axes.lines):
        line.remove()
    times = mdates.date2num(wide.index.tz_localize(None))
    for column in range(wide.shape[1]):
        axes.plot(times, wide.iloc[:, column].to_numpy(), linewidth=1.2, solid_joinstyle="bevel")
    axes.relim()
    axes.autoscale_view()
    started = time.perf_counter()
    figure.canvas.draw()
    return time.perf_counter() - started


def main() -> None:
    data = frame()
    explorer = Explorer(data)
    bare = Figure(figsize=(10, 3.6), dpi=96)
    FigureCanvasAgg(bare)
    bare.add_subplot().set_axis_off()
    changes = [
        lambda: setattr(explorer.pickers["instance"], "value", ("host-1", "host-2")),
        lambda: setattr(explorer.pickers["instance"], "value", ()),
        lambda: setattr(explorer.slider, "index", (100, 399)),
        lambda: setattr(explorer.slider, "index", (0, 399)),
    ]
    redraws, baselines, floors = [], [], []
    for round_ in range(ROUNDS):
        started = time.perf_counter()
        changes[round_ % len(changes)]()
        redraws.append(time.perf_counter() - started)
        visible = to_wide(explorer.frame)  # what the explorer drew, converted outside the timers
        baselines.append(baseline(visible))
        floors.append(lines_alone(visible, bare))
    redraw = statistics.median(redraws)
    print(
        f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}"
    )
    print(f"{'measure':44} {'median':>9} {'baseline':>9} {'ratio':>6}  target")
    for name, times in [
        ("bare matplotlib, new figure, PNG", baselines),
        ("floor: Agg drawing the lines alone", floors),
    ]:
        base = statistics.median(times)
        print(
            f"{'explorer redraw, 20 x 2,000 points, Agg':44} {redraw * 1000:7.1f}ms "
            f"{base * 1000:7.1f}ms {redraw / base:6.2f}  <= 100 ms (baseline: {name})"
        )


if __name__ == "__main__":
    main()
