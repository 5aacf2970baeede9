"""SysmonMagics' options: traits checked when they are set, and what a connection reads of them.

A bad value is refused at ``%config`` with one line, not by every later query; a duration is
parsed once, when it is set. Defaults from the environment are read for each instance.
Pure (traitlets, no IPython): :class:`~sysmon_magic.magics.SysmonMagics` takes its options
from :class:`MagicOptions`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from traitlets import Bool, Dict, Enum, Int, TraitError, Unicode, default, validate
from traitlets.config import Configurable

from .errors import SysmonUsageError
from .plotting import MAX_DISTINCT_SERIES
from .timeparse import parse_duration, parse_zone

__all__ = ["Duration", "MagicOptions", "Seconds", "Settings", "refused_options", "seconds"]


class Seconds(str):
    """A duration option as given (``"60s"``) that carries its seconds: parsed once, when set."""

    seconds: float

    def __new__(cls, text: str, seconds: float | None = None) -> Seconds:
        made = super().__new__(cls, text)
        made.seconds = parse_duration(text) if seconds is None else seconds
        return made


class Duration(Unicode):  # type: ignore[type-arg]
    """A duration trait (``90s``, ``1h30m``), refused when set if it does not parse."""

    def validate(self, obj: Any, value: Any) -> Seconds:
        text = super().validate(obj, value)
        try:
            return Seconds(text, parse_duration(text))
        except SysmonUsageError as exc:
            raise TraitError(f"{self.name}: {exc}") from None


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes")


def seconds(duration: str) -> float:
    """A :class:`Duration` option's seconds (parsed when it was set)."""
    return duration.seconds if isinstance(duration, Seconds) else parse_duration(duration)


@dataclass(frozen=True)
class Settings:
    """The SysmonMagics options a new connection reads."""

    timeout: float = 60.0
    max_points: int = 1000
    max_parallel: int = 4
    max_response_bytes: int = 1024 << 20
    region_urls: Mapping[str, str] = field(default_factory=dict)
    appkey_env: str = "SYSMON_APPKEY"
    demo_gateway: bool = False
    replay: bool = False


class MagicOptions(Configurable):
    """The options of the magics (``%config SysmonMagics``), each checked when it is set."""

    default_range = Duration(
        "1h", help="Window of a range query when neither --range nor --start is given."
    ).tag(config=True)
    max_points = Int(
        1000, help="Points per series an automatic step aims at (the step is rounded up)."
    ).tag(config=True)
    default_format = Enum(
        ["tidy", "wide"], "tidy", help="Shape of result DataFrames when --format is not given."
    ).tag(config=True)
    max_response_mb = Int(
        1024, help="The largest answer read, in MiB (compressed or not); past it, an error."
    ).tag(config=True)
    timeout = Duration("60s", help="How long to wait for an answer (--timeout overrides).").tag(
        config=True
    )
    appkey_env = Unicode(
        "SYSMON_APPKEY", help="Environment variable read for the appkey of a region connection."
    ).tag(config=True)
    timezone = Unicode(
        "UTC", help="IANA time zone of plots' time axes and the explorer, e.g. Asia/Seoul."
    ).tag(config=True)
    max_plot_series = Int(
        30,
        help=f"Plots draw at most this many series (those with the largest values), at most "
        f"{MAX_DISTINCT_SERIES}: beyond that two lines would look alike.",
    ).tag(config=True)
    replay = Bool(
        help="Answer every %sysmon_connect ... --record FILE from FILE (default: $SYSMON_REPLAY).",
    ).tag(config=True)
    demo_gateway = Bool(
        help="Put an NHN-style gateway that checks the appkey in front of the demo server "
        "(default: $SYSMON_DEMO_GATEWAY); the appkey is read as for a region.",
    ).tag(config=True)
    provenance = Bool(
        True, help="Print a provenance line (source, window, step, counts, live/replayed)."
    ).tag(config=True)
    max_parallel = Int(
        4,
        help="Windows of a long range query (past the server's points per series) fetched at once.",
    ).tag(config=True)
    region_urls = Dict(
        {}, help='Base URLs that replace a region\'s, e.g. {"kr1": "http://127.0.0.1:8080"}.'
    ).tag(config=True)

    # Read when an instance is made, not when this module is imported.
    @default("replay")
    def _replay_from_env(self) -> bool:
        return _env_flag("SYSMON_REPLAY")

    @default("demo_gateway")
    def _demo_gateway_from_env(self) -> bool:
        return _env_flag("SYSMON_DEMO_GATEWAY")

    @validate("max_response_mb", "max_points", "max_parallel")
    def _valid_at_least_one(self, proposal: dict[str, Any]) -> int:
        value = int(proposal["value"])
        if value < 1:
            name = proposal["trait"].name
            raise TraitError(
                f"{name} must be at least 1{' (MiB)' if name == 'max_response_mb' else ''}."
            )
        return value

    @validate("max_plot_series")
    def _valid_max_plot_series(self, proposal: dict[str, Any]) -> int:
        value = int(proposal["value"])
        if not 1 <= value <= MAX_DISTINCT_SERIES:
            raise TraitError(
                f"max_plot_series must be 1 to {MAX_DISTINCT_SERIES}: beyond that, two lines "
                "would share a colour and a line style."
            )
        return value

    # Refused when set, so that a bad value is one line at %config, not an error at every query.
    @validate("timezone")
    def _valid_timezone(self, proposal: dict[str, Any]) -> str:
        value: str = proposal["value"]
        try:
            parse_zone(value)
        except SysmonUsageError as exc:
            raise TraitError(f"timezone: {exc}") from None
        return value

    @validate("appkey_env")
    def _valid_appkey_env(self, proposal: dict[str, Any]) -> str:
        value: str = proposal["value"]
        # An empty name was read as "$" in every message, and no variable is named so.
        if not value or "=" in value or value != value.strip():
            raise TraitError(
                f"appkey_env names an environment variable, e.g. SYSMON_APPKEY; not {value!r}."
            )
        return value

    @validate("region_urls")
    def _valid_region_urls(self, proposal: dict[str, Any]) -> dict[str, str]:
        urls = proposal["value"]
        for code, url in urls.items():
            if not (isinstance(code, str) and isinstance(url, str)):
                raise TraitError(
                    f"region_urls maps region codes to base URLs as strings, e.g. "
                    f'{{"kr1": "http://127.0.0.1:8080"}}; not {code!r}: {url!r}.'
                )
        # Regions are looked up in lower case: "KR1" would never be used.
        return {code.strip().lower(): url for code, url in urls.items()}

    def settings(self) -> Settings:
        """The options a new connection reads."""
        return Settings(
            timeout=seconds(self.timeout),
            max_points=self.max_points,
            max_parallel=self.max_parallel,
            max_response_bytes=self.max_response_mb << 20,
            region_urls=dict(self.region_urls),
            appkey_env=self.appkey_env,
            demo_gateway=self.demo_gateway,
            replay=self.replay,
        )


def refused_options(section: Mapping[str, Any]) -> dict[str, str]:
    """The options of a config section (``c.SysmonMagics``) that :class:`MagicOptions` refuses,
    each with its one-line reason.

    ``%config SysmonMagics.timezone = "Asia/Seol"`` is refused on the instance, but IPython has
    kept the value in the shell's config by then, as a config file's bad value is kept: the next
    ``%load_ext`` would fail on it. Whoever makes an instance drops these first.
    """
    probe = MagicOptions()
    names = set(probe.trait_names(config=True))
    refused: dict[str, str] = {}
    for name, value in section.items():
        if name in names:
            try:
                setattr(probe, name, value)
            except TraitError as exc:
                refused[name] = str(exc)
    return refused
