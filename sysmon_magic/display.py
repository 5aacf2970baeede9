"""What the magics show: a plot as a PNG, the query as sent, the windows' progress, an explorer.

The magics decide what to show; this module knows how a notebook (or a terminal) shows it.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from typing import Any

from IPython import display as ipython_display

__all__ = [
    "HighlightedQuery",
    "PlotImage",
    "progress_reporter",
    "show_explorer",
    "show_figure",
    "show_plot",
    "show_query",
]


class PlotImage:
    """A drawn figure as a notebook shows it: a PNG, with a short text form for other frontends."""

    def __init__(self, figure: Any) -> None:
        self.figure = figure
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=96)
        self.png = buffer.getvalue()

    def _repr_png_(self) -> bytes:
        return self.png

    def __repr__(self) -> str:
        # Series only: event marks and thresholds are lines too, but unlabelled ("_...").
        lines = sum(
            not line.get_label().startswith("_") for line in self.figure.axes[0].get_lines()
        )
        return f"<plot: {lines} series>" if lines else "<plot: no data>"


class HighlightedQuery:
    """A query as sent, highlighted as PromQL in notebooks (tokens as Prometheus reads them)."""

    def __init__(self, query: str) -> None:
        self.query = query

    def __repr__(self) -> str:
        return self.query

    def _repr_html_(self) -> str:
        from pygments import highlight
        from pygments.formatters import HtmlFormatter

        from .lexer import PromQLLexer

        return highlight(self.query, PromQLLexer(), HtmlFormatter(noclasses=True, nowrap=False))


def show_query(query: str) -> None:
    """Show the query as sent (``--show-query``)."""
    ipython_display.display(HighlightedQuery(query))


def show_figure(figure: Any) -> None:
    """Show a drawn figure as a PNG."""
    ipython_display.display(PlotImage(figure))


def show_plot(frame: Any, **options: Any) -> None:
    """Draw a result with :func:`~sysmon_magic.plotting.plot` and show it (``--plot``)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from .plotting import legend_height, plot

    # A bare Figure rendered to PNG here: no pyplot state, no double display by the inline
    # backend, and an image even in a kernel where no backend was ever activated.
    figure = Figure(figsize=(10, 3.6), layout="constrained")
    FigureCanvasAgg(figure)
    ax = plot(frame, ax=figure.add_subplot(), **options)
    figure.set_figheight(figure.get_figheight() + legend_height(ax))  # the plot keeps its own
    show_figure(figure)


def progress_reporter(shell: Any, parallel: int) -> Callable[[int, int], None]:
    """Report the windows of a split range query: a bar in a notebook, else one line."""
    bar: Any = None

    def report(done: int, total: int) -> None:
        nonlocal bar
        if total <= 2:
            return
        if bar is None:
            if getattr(shell, "kernel", None) is None:  # a terminal, a script, a test
                print(f"Fetching {total} windows, {parallel} at a time.", file=sys.stderr)
                bar = False
                return
            import ipywidgets

            bar = ipywidgets.IntProgress(max=total, description="windows")
            ipython_display.display(bar)
        if bar:
            bar.value = done
            if done == total:
                bar.close()  # done: the bar leaves nothing behind in the saved notebook

    return report


def show_explorer(explorer: Any) -> None:
    """Show an explorer as two outputs: the plot's PNG, then the live widget.

    nbconvert's HTML shows one mimetype per output and prefers a widget view whose state was
    saved (nbclient always saves it), which then needs the widget manager from a CDN; JupyterLab
    says "model not found" once the kernel is gone. A PNG output of its own shows in nbconvert's
    HTML (tests/test_html_export.py); while the widget is live, its style hides that picture.
    """
    bundle = explorer._repr_mimebundle_()
    ipython_display.display({"image/png": bundle.pop("image/png")}, raw=True)
    ipython_display.display(bundle, raw=True)
