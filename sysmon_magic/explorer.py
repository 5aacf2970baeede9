"""The explorer: label pickers and a time-range slider feeding a matplotlib plot.

:class:`Explorer` builds one ipywidgets tree and never displays it; Jupyter shows it as the value
of a cell; with the extension loaded, as two outputs (``display.show_explorer``): a static PNG of
its first state, which nbconvert's HTML shows offline, then the live widget, whose style hides
that picture while it is there. It talks to a server only
through the :class:`~sysmon_magic.client.Client` it is given, and only for the range buttons.
The plot is one :class:`~sysmon_magic.plot_figure.PlotFigure`, drawn into again on every change
and shown as a PNG (that module says why).
"""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import promql
from .errors import SysmonError, SysmonUsageError
from .frames import to_wide
from .legends import informative_labels, series_labels, varying_labels
from .plot_figure import PlotFigure
from .provenance import Provenance, describe_window
from .timeparse import parse_duration, parse_zone, resolve_window

if TYPE_CHECKING:
    from .query_client import QueryClient

__all__ = ["RANGES", "Explorer", "explore"]

#: The range buttons; each re-queries the server over that last span with an automatic step.
RANGES = ("15m", "1h", "6h", "24h", "7d")
# A picker with more values than this gets a text filter above it.
_FILTER_ABOVE = 12
# The time slider snaps to at most this many positions (a 11,000-point slider is unusable).
_SLIDER_POSITIONS = 400
# Picked options stay marked when the picker loses focus (browsers turn them pale grey), and
# the slider's readout is wide enough for two times instead of clipped.
_STYLE = """<style>
.sysmon-picker select option:checked {
  background: #1a73e8 linear-gradient(0deg, #1a73e8 0%, #1a73e8 100%);
  color: #fff;
}
.sysmon-time-slider .widget-readout { max-width: none; min-width: 16em; overflow: visible; }
.sysmon-range .sysmon-range-active { font-weight: bold; }
/* The static picture in the output just before the explorer's (for nbconvert's HTML): hidden
   while the live explorer is there. */
.jp-OutputArea-child:has(> .jp-RenderedImage):has(+ .jp-OutputArea-child .sysmon-explorer),
.output_area:has(> .output_png):has(+ .output_area .sysmon-explorer) { display: none; }
</style>"""


class Explorer:
    """Pick label values and a time span of a result; the plot follows.

    Parameters
    ----------
    frame
        A result frame (tidy or wide) with ``attrs["promql"]`` as the client sets it.
    client
        The connection to re-query when a range is chosen (no range buttons without one).
    legend, timezone, max_series, unit
        As for :func:`~sysmon_magic.plot`.
    max_points
        Points per series an automatic step aims at when re-querying.

    Attributes
    ----------
    widget
        The ipywidgets tree (``VBox`` with class ``sysmon-explorer``).
    pickers
        Label name -> its ``SelectMultiple``: the labels that tell series apart (``all_labels``
        adds the rest: those constant or one-to-one with a shown one).
    filters
        Label name -> the ``Text`` that narrows its picker, for pickers of over 12 values.
    all_labels
        A ``Checkbox``: show a picker for every label that varies.
    slider
        The time ``SelectionRangeSlider``: zooms the plot without a new query.
    ranges
        Range text (``"24h"``) -> its ``Button``: re-query that span; pressing the active one
        again resets the zoom.
    summary
        The ``HTML`` line under the plot: series drawn of how many, samples, window, step.
    image
        The ``Image`` widget that shows the plot.
    result
        The result shown: the frame given, or the last re-query's.
    original_query
        The query the explorer was made from (picks become matchers in :attr:`query`).
    figure, png
        The matplotlib ``Figure`` the plot is drawn in, and the plot as last drawn, as PNG.
    """

    def __init__(
        self,
        frame: pd.DataFrame,
        *,
        client: QueryClient | None = None,
        legend: str | None = None,
        timezone: str = "UTC",
        max_series: int = 30,
        max_points: int = 1000,
        unit: str | None = None,
    ) -> None:
        import ipywidgets as widgets

        parse_zone(timezone)  # a wrong zone is one line now, not a failure in every redraw
        self.client = client
        self.legend = legend
        self.timezone = timezone
        self.max_series = max_series
        self.max_points = max_points
        self.unit = unit
        self._plot = PlotFigure()
        self.figure = self._plot.figure
        self.png = b""
        self.original_query: str = Provenance.of(frame).query or ""
        self.pickers: dict[str, Any] = {}
        self.filters: dict[str, Any] = {}
        self._loading = False
        self._active_range: str | None = None
        # _load() sets these from the frame; declared here for readers and type checkers.
        self.result: pd.DataFrame  # the result shown: the frame given, or the last re-query's
        self._wide: pd.DataFrame

        self._pickers_box = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self.all_labels = widgets.Checkbox(
            value=False, description="all labels", indent=False, layout={"width": "auto"}
        )
        self.all_labels.add_class("sysmon-all-labels")
        self.slider = widgets.SelectionRangeSlider(
            options=[("", 0)],
            description="time",
            continuous_update=False,  # redraw on release; the readout follows the drag
            layout=widgets.Layout(width="90%"),
        )
        self.slider.add_class("sysmon-time-slider")
        can_requery = client is not None and bool(self.original_query)
        self.ranges = {
            text: widgets.Button(
                description=text, disabled=not can_requery, layout={"width": "4em"}
            )
            for text in RANGES
        }
        for text, button in self.ranges.items():
            button.on_click(lambda _button, text=text: self.choose_range(text))
        ranges_box = widgets.HBox([widgets.Label("re-query"), *self.ranges.values()])
        ranges_box.add_class("sysmon-range")
        self.image = widgets.Image(format="png", layout=widgets.Layout(width="auto"))
        plot_box = widgets.Box([self.image])
        plot_box.add_class("sysmon-plot")
        self.summary = widgets.HTML()
        self.summary.add_class("sysmon-summary")
        # Exceptions raised in callbacks land here, visible, instead of in the kernel's log.
        self._messages = widgets.Output()
        self._messages.add_class("sysmon-messages")
        self.widget = widgets.VBox(
            [
                widgets.HTML(_STYLE),
                widgets.HBox([self._pickers_box, self.all_labels]),
                ranges_box,
                self.slider,
                plot_box,
                self.summary,
                self._messages,
            ]
        )
        self.widget.add_class("sysmon-explorer")

        self._load(frame)
        self._mark_range(_range_of(frame))
        self.slider.observe(self._on_change, names="value")
        self.all_labels.observe(self._on_all_labels, names="value")
        self._redraw()

    # -- the selection -------------------------------------------------------------------------

    @property
    def selection(self) -> dict[str, list[str]]:
        """Picked values per label (labels with nothing picked, meaning all, are left out)."""
        return {label: list(p.value) for label, p in self.pickers.items() if p.value}

    @property
    def window(self) -> tuple[pd.Timestamp, pd.Timestamp]:
        """The time span the slider selects (UTC)."""
        # From the index: the slider's value lags when new options keep the same index.
        first, last = self.slider.index
        options = self.slider.options
        return pd.Timestamp(options[first][1]), pd.Timestamp(options[last][1])

    @property
    def zoomed(self) -> bool:
        """Whether the slider selects less than the whole result."""
        return tuple(self.slider.index) != (0, len(self.slider.options) - 1)

    @property
    def query(self) -> str:
        """The original query with the picked label values as matchers: a reproducible cell."""
        return promql.add_matchers(self.original_query, self.selection)

    @property
    def frame(self) -> pd.DataFrame:
        """The current selection (series and time span) in the input's shape."""
        start, end = self.window
        source = self.result
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
        """Take a (new) result: pickers for the labels that matter, slider over its window."""
        self._loading = True  # one redraw after the whole change, not one per widget touched
        self.result = frame
        self._wide = to_wide(frame)
        self._build_pickers(self.selection)
        self._reset_slider()
        self._loading = False

    def _build_pickers(self, previous: dict[str, list[str]]) -> None:
        import ipywidgets as widgets

        names = [str(n) for n in self._wide.columns.names]
        label_sets = series_labels(self._wide.columns)  # a label a series lacks: left out
        differ = set(varying_labels(label_sets))
        varying = [n for n in names if n in differ]  # in the columns' order
        shown = varying if self.all_labels.value else informative_labels(label_sets)
        self.all_labels.layout.display = "" if len(shown) < len(varying) else "none"
        self.pickers = {}
        self.filters = {}
        boxes = []
        for label in [n for n in varying if n in shown]:
            values = sorted({ls.get(label, "") for ls in label_sets})
            picker = widgets.SelectMultiple(
                options=values,
                value=[v for v in previous.get(label, []) if v in values],
                description=label,
                rows=min(len(values), 6),
                style={"description_width": "initial"},
            )
            picker.add_class("sysmon-picker")
            picker.observe(self._on_change, names="value")
            self.pickers[label] = picker
            if len(values) > _FILTER_ABOVE:
                self.filters[label] = self._filter_for(picker, values)
                boxes.append(widgets.VBox([self.filters[label], picker]))
            else:
                boxes.append(picker)
        self._pickers_box.children = boxes

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
        if len(index) == 0:  # no data: the slider spans the window that was asked for
            asked = Provenance.of(self.result)
            at = asked.time or 0  # an instant query's time; 0 for a frame the client did not make
            ends = [
                at if asked.start is None else asked.start,
                at if asked.end is None else asked.end,
            ]
            times = pd.DatetimeIndex(pd.to_datetime(ends, unit="s", utc=True))
        else:
            positions = np.unique(np.linspace(0, len(index) - 1, _SLIDER_POSITIONS).astype(int))
            times = pd.DatetimeIndex(index[positions])
        # Spaces around each label: the readout joins the two ends with a bare "-".
        labels = [f" {t:%b %d %H:%M} " for t in times.tz_convert(self.timezone)]
        options = list(zip(labels, times, strict=True))
        self.slider.options = options
        self.slider.index = (0, len(options) - 1)

    def _on_change(self, _change: dict[str, Any]) -> None:
        if not self._loading:
            self._redraw()

    def _on_all_labels(self, _change: dict[str, Any]) -> None:
        self._build_pickers(self.selection)
        self._redraw()

    def choose_range(self, range_text: str) -> None:
        """A range button: re-query that span; the active range again resets the zoom."""
        if range_text == self._active_range and self.zoomed:
            self.slider.index = (0, len(self.slider.options) - 1)  # redraws through observe
            return
        self.requery(range_text)

    def _mark_range(self, active: str | None) -> None:
        self._active_range = active
        for text, button in self.ranges.items():
            button.button_style = "info" if text == active else ""
            if text == active:
                button.add_class("sysmon-range-active")
            else:
                button.remove_class("sysmon-range-active")

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
                    min_step=self.client.scrape_interval or 0.0,
                )
                frame = self.client.query_range(
                    self.original_query,
                    start,
                    end,
                    step,
                    fmt="tidy" if "timestamp" in self.result.columns else "wide",
                )
            except SysmonError as exc:
                self.summary.value = f"<span style='color:#a33'>{_html(exc)}</span>"
                return
            self._load(frame)
            self._mark_range(range_text)
            self._redraw()

    def _redraw(self) -> None:
        with self._messages:
            started = time.perf_counter()
            visible = self._visible_wide()
            self._draw(visible)
            self.png = self.image.value = self._plot.png()
            self.summary.value = _html(self._summary_text(visible, time.perf_counter() - started))

    def _draw(self, visible: pd.DataFrame) -> None:
        if visible.shape[1] or not self._wide.shape[1]:
            visible.attrs = self.result.attrs  # the window: with no data, plot() draws it
            self._plot.draw(
                visible,
                legend=self.legend,
                timezone=self.timezone,
                max_series=self.max_series,
                # The picks as matchers: a lone series is titled by the query that gives it.
                query=self.query,
                unit=self.unit,
            )
        else:
            self._plot.draw(None, message="No series selected")

    def _summary_text(self, visible: pd.DataFrame, draw_seconds: float) -> str:
        info = self.result.attrs.get("promql", {})
        samples = int(np.isfinite(visible.to_numpy(dtype=float)).sum())
        start, end = self.window
        total = self._wide.shape[1]
        matching = visible.shape[1]
        if total == 0:
            series = "no series"
        elif matching > self.max_series:  # plot() draws the largest: say so, as the plot does
            series = f"{self.max_series} / {total} series shown ("
            series += (
                f"the largest of {matching} picked)"
                if self.selection
                else ("those with the largest values)")
            )
        else:
            series = f"{matching} / {total} series shown"
        shown = Provenance(start=start.timestamp(), end=end.timestamp(), step=info.get("step"))
        parts = [series, f"{samples:,} samples", describe_window(shown)]
        if "elapsed" in info:
            parts.append(f"query {info['elapsed']:.2f} s")
        parts.append(f"drawn in {draw_seconds:.2f} s")
        return ", ".join(parts)

    # -- display ---------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        # The first state as a static image too, for a frontend that cannot show the widget view
        # (the extension's display hook also publishes it as an output of its own).
        bundle["image/png"] = self.png
        bundle["text/plain"] = repr(self)
        return bundle

    def __repr__(self) -> str:
        return f"<Explorer: {self._wide.shape[1]} series of {self.original_query!r}>"


def explore(
    frame_or_query: pd.DataFrame | str,
    client: QueryClient | None = None,
    **options: Any,
) -> Explorer:
    """An :class:`Explorer` of a result frame, or of a query run over the last hour on ``client``."""
    if isinstance(frame_or_query, str):
        if client is None:
            raise SysmonUsageError("explore(query) needs client=: the connection to query.")
        start, end, step = resolve_window(
            now=client.now(),
            default_range=3600,
            max_points=options.get("max_points", 1000),
            min_step=client.scrape_interval or 0.0,
        )
        frame_or_query = client.query_range(frame_or_query, start, end, step)
    return Explorer(frame_or_query, client=client, **options)


def _range_of(frame: pd.DataFrame) -> str | None:
    """The range button that matches a result's window, if one does."""
    asked = Provenance.of(frame)
    if asked.start is None or asked.end is None:
        return None
    span = asked.end - asked.start
    return next((text for text in RANGES if parse_duration(text) == span), None)


def _html(text: object) -> str:
    return html.escape(str(text), quote=False)
