"""sysmon_magic: PromQL in Jupyter for NHN Cloud System Monitoring and any Prometheus.

``%load_ext sysmon_magic`` registers ``%sysmon_connect`` and ``%%promql``; the Python API
(``sysmon_magic.Client``) works without IPython. Importing this package is cheap: pandas,
requests and IPython are imported when a name that needs them is first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "APIError",
    "AuthError",
    "Client",
    "DeadlineError",
    "QueryError",
    "ResponseFormatError",
    "ResponseTooLargeError",
    "SysmonError",
    "SysmonUsageError",
    "TransportError",
    "__version__",
    "backtest",
    "explore",
    "load_ipython_extension",
    "plot",
    "unload_ipython_extension",
]

# Public name -> the module that defines it, imported on first access (PEP 562).
_LAZY = {
    "Client": "client",
    "APIError": "errors",
    "AuthError": "errors",
    "DeadlineError": "errors",
    "ResponseTooLargeError": "errors",
    "QueryError": "errors",
    "ResponseFormatError": "errors",
    "SysmonError": "errors",
    "SysmonUsageError": "errors",
    "TransportError": "errors",
    "backtest": "alerts",
    "explore": "explorer",
    "plot": "plotting",
}

if TYPE_CHECKING:
    from .alerts import backtest
    from .client import Client
    from .errors import (
        APIError,
        AuthError,
        DeadlineError,
        QueryError,
        ResponseFormatError,
        ResponseTooLargeError,
        SysmonError,
        SysmonUsageError,
        TransportError,
    )
    from .explorer import explore
    from .plotting import plot


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext sysmon_magic``: register the magics and make them configurable."""
    from .magics import SysmonMagics

    magics = SysmonMagics(ipython)
    ipython.register_magics(magics)
    ipython.configurables.append(magics)  # so that %config SysmonMagics lists the options
    from IPython.core.completer import context_matcher

    @context_matcher(identifier="sysmon_magic.promql")
    def complete_promql(context: Any) -> Any:
        return magics.complete_promql(context)

    ipython.Completer.custom_matchers.append(complete_promql)
    from .magics import show_explorer

    # By name: importing the explorer (and ipywidgets) waits until an explorer is shown.
    ipython.display_formatter.ipython_display_formatter.for_type_by_name(
        "sysmon_magic.explorer", "Explorer", show_explorer
    )


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext sysmon_magic``: close the connections' HTTP sessions."""
    for magics in [c for c in ipython.configurables if type(c).__name__ == "SysmonMagics"]:
        for client in magics.connections.values():
            client.close()
        if magics._gateway is not None:
            magics._gateway.stop()
        ipython.configurables.remove(magics)
    ipython.display_formatter.ipython_display_formatter.pop("sysmon_magic.explorer.Explorer", None)
