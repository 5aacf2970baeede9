"""The explorer: label pickers and a time-range slider feeding a matplotlib plot.

:class:`Explorer` builds one ipywidgets tree and never displays it; Jupyter shows it as the value
of a cell (``_repr_mimebundle_``), with a static PNG of its first state beside the live widget so
that a saved notebook, nbconvert's HTML and GitHub still show the plot. It talks to a server only
through the :class:`~sysmon_magic.client.Client` it is given, and only for the range selector.

One figure is kept and drawn into again on every change, so that its axes keep their tick artists
instead of building new ones (a third of a redraw), and the plot is sent as a PNG: an SVG would
cost the kernel less, but a browser without a GPU takes over half a second to draw one of 20 x
2,000 points, against 30 ms for the PNG.
"""

from __future__ import annotations

import io
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import promql_text
from .errors import SysmonError, SysmonUsageError
from .plotting import as_wide, plot
from .timeparse import format_duration, format_time, parse_duration, resolve_window

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .client import Client

__all__ = ["Explorer", "explore"]

#: The range selector's choices; each re-queries the server with an automatic step.
RANGES = ("15m", "1h", "6h", "24h", "7d")
# A picker with more values than this gets a text filter above it.
_FILTER_ABOVE = 12
# The time slider snaps to at most this many positions (a 11,000-point slider is unusable).
_SLIDER_POSITIONS = 400
_FIGSIZE = (10.0, 3.6)
_Z_RLE = 3  # zlib's run-length strategy: plots are long runs of the same colour
_DPI = 96


class Explorer:
    """Pick label values and a time span of a result; the plot follows.

    Parameters
    ----------
    frame
        A result frame (tidy or wide) with ``attrs["promql"]`` as the client sets it.
    client
        The connection to re-query when a range is chosen (no range selector without one).
    legend, timezone, max_series
        As for :func:`~sysmon_magic.plot`.
    max_points
        Points per series an automatic step aims at when re-querying.

    Attributes
    ----------
    widget
        The ipywidgets tree (``VBox`` with class ``sysmon-explorer``).
    frame
        The current selection as a DataFrame of the same shape as the input.
    query
        The original query with the picked label values added as matchers.
    figure
        The matplotlib ``Figure`` the plot is drawn in.
    png
        The plot as last drawn, as a PNG.
    """

    def __init__(
        self,
        frame: pd.DataFrame,
        *,
        client: Client | None = None,
        legend: str | None = None,
        timezone: str = "UTC",
        max_series: int = 30,
        max_points: int = 1000,
    ) -> None:
        import ipywidgets as widgets

        self.client = client
        self.legend = legend
        self.timezone = timezone
        self.max_series = max_series
        self.max_points = max_points
        self.figure = _figure()
        self.png = b""
        self._loading = False
        # _load() sets these from the frame; declared here for readers and type checkers.
        self._source: pd.DataFrame
        self._wide: pd.DataFrame
        self._original_query: str = frame.attrs.get("promql", {}).get("query", "")

        self._pickers_box = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self._pickers: dict[str, Any] = {}
        self._slider = widgets.SelectionRangeSlider(
            options=[("", 0)],
            description="time",
            continuous_update=False,
            # ipywidgets clips a readout this long; the summary line below states the window.
            readout=False,
            layout=widgets.Layout(width="70%"),
        )
        self._slider.add_class("sysmon-time-slider")
        self._range = widgets.ToggleButtons(
            options=list(RANGES),
            value=None,
            description="re-query",
            style={"button_width": "4em"},
            disabled=client is None or not self._original_query,
        )
        self._range.add_class("sysmon-range")
        self._image = widgets.Image(format="png", layout=widgets.Layout(width="auto"))
        plot_box = widgets.Box([self._image])
        plot_box.add_class("sysmon-plot")
        self._summary = widgets.HTML()
        self._summary.add_class("sysmon-summary")
        # Exceptions raised in callbacks land here, visible, instead of in the kernel's log.
        self._messages = widgets.Output()
        self._messages.add_class("sysmon-messages")
        self.widget = widgets.VBox(
            [self._pickers_box, self._range, self._slider, plot_box, self._summary, self._messages]
        )
        self.widget.add_class("sysmon-explorer")

        self._load(frame)
        self._slider.observe(self._on_change, names="value")
        self._range.observe(self._on_range, names="value")
        self._redraw()

    # -- the selection -------------------------------------------------------------------------

    @property
    def selection(self) -> dict[str, list[str]]:
        """Picked values per label (labels with nothing picked, meaning all, are left out)."""
        return {label: list(p.value) for label, p in self._pickers.items() if p.value}

    @property
    def window(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The time span the slider selects (UTC)."""
        # From the index: the slider's value lags when new options keep the same index.
        first, last = self._slider.index
        options = self._slider.options
        return pd.Timestamp(options[first][1]), pd.Timestamp(options[last][1])

    @property
    def query(self) -> str:
        """The original query with the picked label values as matchers: a reproducible cell."""
        return promql_text.add_matchers(self._original_query, self.selection)

    @property
    def frame(self) -> pd.DataFrame:
        """The current selection (series and time span) in the input's shape."""
        start, end = self.window
        source = self._source
        if "timestamp" in source.columns:
            keep = (source["timestamp"] >= start) & (source["timestamp"] <= end)
            for label, values in self.selection.items():
                keep &= source[label].isin(values)
            chosen = source[keep]
        else:
            chosen = self._visible_wide()
        chosen.attrs = {"promql": {**source.attrs.get("promql", {}), "query": self.query}}
        return chosen

    def _visible_wide(self) -> pd.DataFrame:
        wide = self._wide
        columns = np.ones(wide.shape[1], dtype=bool)
        for label, values in self.selection.items():
            columns &= wide.columns.get_level_values(label).isin(values)
        start, end = self.window
        rows = slice(*wide.index.slice_indexer(start, end).indices(len(wide))[:2])
        return wide.iloc[rows, columns]

    # -- building and updating -------------------------------------------------------------

    def _load(self, frame: pd.DataFrame) -> None:
        """Take a (new) result: pickers for the labels that differ, slider over its timestamps."""
        import ipywidgets as widgets

        self._loading = True  # one redraw after the whole change, not one per widget touched
        self._source = frame
        self._wide = as_wide(frame)
        previous = self.selection
        self._pickers = {}
        boxes = []
        columns = self._wide.columns
        for label in map(str, columns.names):
            values = sorted({str(v) for v in columns.get_level_values(label)})
            if len(values) < 2:
                continue
            picker = widgets.SelectMultiple(
                options=values,
                value=[v for v in previous.get(label, []) if v in values],
                description=label,
                rows=min(len(values), 6),
                style={"description_width": "initial"},
            )
            picker.add_class("sysmon-picker")
            picker.observe(self._on_change, names="value")
            self._pickers[label] = picker
            if len(values) > _FILTER_ABOVE:
                boxes.append(widgets.VBox([self._filter_for(picker, values), picker]))
            else:
                boxes.append(picker)
        self._pickers_box.children = boxes
        self._reset_slider()
        self._loading = False

    def _filter_for(self, picker: Any, values: Sequence[str]) -> Any:
        import ipywidgets as widgets

        text = widgets.Text(placeholder=f"filter {picker.description}", layout={"width": "16em"})
        text.add_class("sysmon-filter")

        def narrow(change: dict[str, Any]) -> None:
            needle = change["new"].lower()
            kept = [v for v in values if needle in v.lower() or v in picker.value]
            picker.options = kept

        text.observe(narrow, names="value")
        return text

    def _reset_slider(self) -> None:
        index = self._wide.index
        if len(index) == 0:
            options = [("(no data)", pd.Timestamp(0, tz="UTC"))]
        else:
            positions = np.unique(np.linspace(0, len(index) - 1, _SLIDER_POSITIONS).astype(int))
            local = index[positions].tz_convert(self.timezone)
            labels = [t.strftime("%m-%d %H:%M") for t in local]
            options = list(zip(labels, index[positions], strict=True))
        self._slider.options = options
        self._slider.index = (0, len(options) - 1)

    def _on_change(self, _change: dict[str, Any]) -> None:
        if not self._loading:
            self._redraw()

    def _on_range(self, change: dict[str, Any]) -> None:
        if change["new"] is not None:
            self.requery(change["new"])

    def requery(self, range_text: str) -> None:
        """Fetch the query over the last ``range_text`` (automatic step) and show it."""
        with self._messages:
            self._messages.clear_output()
            try:
                if self.client is None:
                    raise SysmonUsageError("This explorer has no connection to re-query.")
                start, end, step = resolve_window(
                    now=self.client.now(),
                    default_range=parse_duration(range_text),
                    max_points=self.max_points,
                )
                frame = self.client.query_range(
                    self._original_query,
                    start,
                    end,
                    step,
                    fmt="tidy" if "timestamp" in self._source.columns else "wide",
                )
            except SysmonError as exc:
                self._summary.value = f"<span style='color:#a33'>{_html(str(exc))}</span>"
                return
            self._load(frame)
            self._redraw()

    def _redraw(self) -> None:
        with self._messages:
            started = time.perf_counter()
            visible = self._visible_wide()
            self._draw(visible)
            self.png = self._image.value = self._encode()
            self._summary.value = _html(self._summary_text(visible, time.perf_counter() - started))

    def _draw(self, visible: pd.DataFrame) -> None:
        axes = self.figure.axes[0]
        _clear(axes)
        if visible.shape[1]:
            plot(
                visible,
                ax=axes,
                legend=self.legend,
                timezone=self.timezone,
                max_series=self.max_series,
                query=self._original_query,
            )
        else:
            axes.text(0.5, 0.5, "No series selected", ha="center", transform=axes.transAxes)
            # No ticks, and no date formatter left to label none (it fails on an empty list);
            # plot() sets its own again when there is something to draw.
            from matplotlib.ticker import NullFormatter, NullLocator

            for axis in (axes.xaxis, axes.yaxis):
                axis.set_major_locator(NullLocator())
                axis.set_major_formatter(NullFormatter())
        # Fixed margins, not a layout engine: constrained layout doubles the cost of a redraw.
        # Room for a legend of ~45 characters at the right; labels are shortened to fit.
        right = 0.66 if axes.get_legend() is not None else 0.98
        self.figure.subplots_adjust(left=0.08, right=right, bottom=0.16, top=0.9)

    def _encode(self) -> bytes:
        """The figure as a PNG: drawn by Agg and encoded by Pillow directly (savefig's
        bookkeeping costs more than the encoding), with fast run-length zlib (2x faster than
        the default, ~15 % larger). RGBA, as savefig writes it: a style may make it transparent."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from PIL import Image

        canvas = self.figure.canvas
        assert isinstance(canvas, FigureCanvasAgg)  # _figure() attached it
        canvas.draw()
        size = canvas.get_width_height()
        image = Image.frombuffer("RGBA", size, canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        buffer = io.BytesIO()
        image.save(buffer, format="png", compress_level=1, compress_type=_Z_RLE)
        return buffer.getvalue()

    def _summary_text(self, visible: pd.DataFrame, draw_seconds: float) -> str:
        info = self._source.attrs.get("promql", {})
        samples = int(np.isfinite(visible.to_numpy(dtype=float)).sum())
        start, end = self.window
        parts = [
            f"{visible.shape[1]} / {self._wide.shape[1]} series shown",
            f"{samples:,} samples",
            f"{format_time(start.timestamp())} to {format_time(end.timestamp())}",
        ]
        if "step" in info:
            parts.append(f"step {format_duration(info['step'])}")
        if "elapsed" in info:
            parts.append(f"query {info['elapsed']:.2f} s")
        parts.append(f"drawn in {draw_seconds:.2f} s")
        return ", ".join(parts)

    # -- display ---------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        # The first state as a static image: what a saved notebook, nbconvert and GitHub show.
        bundle["image/png"] = self.png
        bundle["text/plain"] = repr(self)
        return bundle

    def __repr__(self) -> str:
        return f"<Explorer: {self._wide.shape[1]} series of {self._original_query!r}>"


def explore(
    frame_or_query: pd.DataFrame | str,
    client: Client | None = None,
    **options: Any,
) -> Explorer:
    """An :class:`Explorer` of a result frame, or of a query run over the last hour on ``client``."""
    if isinstance(frame_or_query, str):
        if client is None:
            raise SysmonUsageError("explore(query) needs client=: the connection to query.")
        start, end, step = resolve_window(
            now=client.now(), default_range=3600, max_points=options.get("max_points", 1000)
        )
        frame_or_query = client.query_range(frame_or_query, start, end, step)
    return Explorer(frame_or_query, client=client, **options)


def _figure() -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    # A bare Figure, not pyplot: nothing is kept in pyplot's registry or shown twice inline.
    figure = Figure(figsize=_FIGSIZE, dpi=_DPI)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    # Axis labels at fixed places (the margins are fixed too), so that a redraw need not measure
    # every tick label to place them. The y label at the figure's left edge: the axes' width
    # changes with the legend.
    axes.xaxis.set_label_coords(0.5, -0.1)
    axes.yaxis.set_label_coords(0.015, 0.53, transform=figure.transFigure)
    return figure


def _clear(axes: Axes) -> None:
    """Remove what :func:`~sysmon_magic.plot` drew, keeping the axes' ticks (cheaper than cla())."""
    for artist in [*axes.lines, *axes.texts]:
        artist.remove()
    if (legend := axes.get_legend()) is not None:
        legend.remove()
    for loc in ("left", "center", "right"):
        axes.set_title("", loc=loc)
    axes.set_ylabel("")
    axes.set_prop_cycle(None)  # the same colours for the same picks, as in a new figure
    axes.relim()
    # A new figure's limits, so that nothing to draw (no series, only NaN) shows no old ones.
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_autoscale_on(True)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
