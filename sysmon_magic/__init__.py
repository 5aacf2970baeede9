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
    """``%load_ext sysmon_magic``: register the magics, their options and Tab completion."""
    from .magics import SysmonMagics

    ipython.register_magics(SysmonMagics)  # the instance registers itself (storemagic's shape)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext sysmon_magic``: close the connections, take back the completer."""
    from .magics import SysmonMagics

    SysmonMagics.unload(ipython)
