"""Grafana dashboards in notebooks: open one, resolve its variables against a connection, and get
every panel as a DataFrame or a plot; or write one from results.

:meth:`Dashboard.load` reads a dashboard's JSON (Grafana's export, or the API's
``{"dashboard": ...}``), then resolves its variables in dependency order, as Grafana does
(:mod:`.variables`). Multi-value variables hold lists, and ``All`` is Grafana's ``$__all``: every
value, or the ``allValue`` as written.

Each :class:`Panel` (rows and collapsed rows' panels included, repeated panels once per value)
turns its visible targets into queries as Grafana's Prometheus data source does (:mod:`.panels`,
:mod:`.timing`): the step from the window and ``maxDataPoints``, ``$__interval``,
``$__rate_interval``, ``$__range``, the variables and their formats expanded by
:mod:`~sysmon_magic.templating`, ad-hoc filters added to every selector (:mod:`.adhoc`), and
``instant`` targets evaluated at the window's end. :mod:`.drawing` draws them with their units
(per series where the panel overrides them); :mod:`.view` is the widget.

:func:`to_dashboard` goes the other way (:mod:`.export`): results of ``%%promql`` become a
dashboard in Grafana's current schema, which gives the same frames when it is opened again.
"""

from __future__ import annotations

from .dashboard import Dashboard
from .export import SCHEMA_VERSION, to_dashboard
from .model import ALL, PanelQuery, Target, Variable
from .panels import Panel
from .timing import round_interval, step_for

__all__ = [
    "ALL",
    "SCHEMA_VERSION",
    "Dashboard",
    "Panel",
    "PanelQuery",
    "Target",
    "Variable",
    "round_interval",
    "step_for",
    "to_dashboard",
]
