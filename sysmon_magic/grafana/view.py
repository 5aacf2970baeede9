"""The widget of a :class:`~sysmon_magic.grafana.Dashboard`: its variables as dropdowns, its
panels as a list, and the chosen panel drawn (or shown as a table). Builds, never displays.

Changing a dropdown sets the variable (:meth:`Dashboard.set`), which resolves the variables
that depend on it; their dropdowns then show their new options, the list of panels shows the
repeated panels for the new values, and the panel is drawn again. An ad-hoc filter variable is a
text box of matchers (``instance="web-03:9100", mode=~"user|system"``).
"""

from __future__ import annotations

import html
import io
from typing import TYPE_CHECKING, Any

from ..errors import SysmonError

if TYPE_CHECKING:
    from .dashboard import Dashboard
    from .model import Variable
    from .panels import Panel

__all__ = ["RANGES", "DashboardView"]

#: Ranges the view offers besides the dashboard's own time range.
RANGES = ("15m", "1h", "6h", "24h", "7d")
_WIDTH_INCHES = 10.0
_DPI = 96


class DashboardView:
    """Dropdowns for a dashboard's variables, a list of its panels, and the chosen panel.

    Attributes
    ----------
    widget
        The ipywidgets tree (a ``VBox`` with class ``sysmon-dashboard``).
    controls
        Variable name -> its ``Dropdown`` (``SelectMultiple`` for a multi-value variable,
        ``Text`` for a text box and for ad-hoc filters); hidden variables have none.
    range
        A ``Dropdown``: the dashboard's time range (``None``) or a range ending where it ends.
    panels
        A ``Select`` of the panels (value: the index in ``dashboard.panels``).
    image, table, message
        The chosen panel's plot (PNG), its table (HTML), and what went wrong or is not drawn.
    png
        The plot as last drawn.
    """

    def __init__(self, dashboard: Dashboard) -> None:
        import ipywidgets as widgets

        self.dashboard = dashboard
        self.png = b""
        self._syncing = False
        self.controls: dict[str, Any] = {}
        for name in dashboard.variables:
            variable = dashboard.variable(name)
            if variable.hidden or variable.type in ("constant", "datasource"):
                continue
            control = _control(variable)
            control.observe(lambda change, name=name: self._on_variable(name, change), "value")
            self.controls[name] = control
        start, end = dashboard.time
        self.range = widgets.Dropdown(
            options=[(f"dashboard: {start} to {end}", None), *[(f"last {r}", r) for r in RANGES]],
            value=None,
            description="range",
        )
        self.range.observe(lambda _change: self.draw(), "value")
        first = next((n for n, p in enumerate(dashboard.panels) if p.drawn), None)
        self.panels = widgets.Select(
            options=[(_panel_label(p), n) for n, p in enumerate(dashboard.panels)],
            value=first,  # the first panel that is drawn
            rows=min(14, max(len(dashboard.panels), 2)),
            layout=widgets.Layout(width="30%"),
        )
        self.panels.observe(lambda _change: None if self._syncing else self.draw(), "value")
        self.image = widgets.Image(format="png", layout=widgets.Layout(width="auto"))
        self.table = widgets.HTML()
        self.message = widgets.HTML()
        shown = widgets.VBox([self.message, self.image, self.table], layout={"width": "70%"})
        title = widgets.HTML(f"<b>{html.escape(dashboard.title)}</b> · {_where(dashboard)}")
        variables = widgets.HBox(
            list(self.controls.values()), layout=widgets.Layout(flex_flow="row wrap")
        )
        self.widget = widgets.VBox(
            [title, variables, self.range, widgets.HBox([self.panels, shown])]
        )
        self.widget.add_class("sysmon-dashboard")
        self.draw()

    @property
    def panel(self) -> Panel | None:
        """The chosen panel."""
        chosen = self.panels.value
        return None if chosen is None else self.dashboard.panels[chosen]

    def draw(self) -> None:
        """Show the chosen panel over the chosen range: a plot, a table, or why not."""
        panel = self.panel
        self.image.layout.display = "none"
        self.table.value = ""
        self.message.value = ""
        if panel is None:
            self.message.value = "Choose a panel."
            return
        try:
            if panel.drawn == "table":
                frame = panel.frame(range=self.range.value)
                self.table.value = frame.to_html(max_rows=60, index=False)
            elif panel.drawn is None:
                self.message.value = html.escape(f"{panel.title}: not drawn, {panel.reason}.")
            else:
                self.png = _png(panel, self.range.value)
                self.image.value = self.png
                self.image.layout.display = None
        except SysmonError as exc:  # a failed query is shown where the panel would be
            self.message.value = f"<span style='color:#a33'>{html.escape(str(exc))}</span>"

    def _on_variable(self, name: str, change: dict[str, Any]) -> None:
        if self._syncing:
            return
        value = change["new"]
        chosen = self.panel  # before set(): it may rebuild the list of panels
        try:
            self.dashboard.set(name, list(value) if isinstance(value, tuple) else value)
        except SysmonError as exc:
            self._sync(chosen)  # nothing changed: the control shows the value again
            self.message.value = f"<span style='color:#a33'>{html.escape(str(exc))}</span>"
            return
        self._sync(chosen)
        self.draw()

    def _sync(self, chosen: Panel | None) -> None:
        """Show every variable's options and value, and the panels, as the dashboard has them
        now; the chosen panel stays chosen if it is still there (a repeat may be gone)."""
        self._syncing = True
        try:
            for name, control in self.controls.items():
                variable = self.dashboard.variable(name)
                if hasattr(control, "options"):
                    control.options = _options(variable)
                    control.value = _value(variable)
                else:
                    control.value = _value(variable)
            panels = self.dashboard.panels
            options = [(_panel_label(p), n) for n, p in enumerate(panels)]
            if options != list(self.panels.options):
                kept = [n for n, p in enumerate(panels) if p is chosen]
                first = next((n for n, p in enumerate(panels) if p.drawn), None)
                self.panels.options = options
                self.panels.value = kept[0] if kept else first
        finally:
            self._syncing = False


def _control(variable: Variable) -> Any:
    import ipywidgets as widgets

    style = {"description_width": "initial"}
    if variable.type in ("textbox", "adhoc"):
        return widgets.Text(
            value=_value(variable),
            description=variable.label,
            continuous_update=False,
            style=style,
        )
    if variable.multi:
        return widgets.SelectMultiple(
            options=_options(variable),
            value=_value(variable),
            rows=min(5, max(len(variable.options), 1)),
            description=variable.label,
            style=style,
        )
    return widgets.Dropdown(
        options=_options(variable),
        value=_value(variable),
        description=variable.label,
        disabled=not variable.options,
        style=style,
    )


def _options(variable: Variable) -> list[tuple[str, str]]:
    if variable.options:
        return list(variable.options)
    # No values on the server: the saved value, shown (and the dropdown disabled).
    return [(value, value) for value in variable.current]


def _value(variable: Variable) -> Any:
    if variable.type == "adhoc":
        return ", ".join(variable.value)
    if variable.type == "textbox":
        return variable.current[0] if variable.current else ""
    if variable.multi:
        return tuple(variable.current)
    return variable.current[0] if variable.current else None


def _panel_label(panel: Panel) -> str:
    where = f"{panel.row} / " if panel.row else ""
    how = {"lines": "", "values": " (values)", "table": " (table)"}.get(panel.drawn or "", "")
    if panel.drawn is None:
        how = f" — not drawn ({panel.type})"
    return f"{where}{panel.shown_title or '(untitled)'}{how}"


def _where(dashboard: Dashboard) -> str:
    drawn = sum(p.drawn is not None for p in dashboard.panels)
    return html.escape(
        f"{len(dashboard.panels)} panels ({drawn} drawn), on {dashboard.client.name}"
    )


def _png(panel: Panel, range_text: str | None) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from ..plotting import legend_height

    # A bare Figure: nothing kept in pyplot's registry, nothing shown twice inline.
    figure = Figure(figsize=(_WIDTH_INCHES, 3.6), dpi=_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    ax = panel.plot(range=range_text, ax=figure.add_subplot())
    if panel.drawn == "values":
        figure.set_figheight(0.9 + 0.3 * max(len(ax.get_yticks()), 1))
    else:
        figure.set_figheight(figure.get_figheight() + legend_height(ax))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI)
    return buffer.getvalue()
