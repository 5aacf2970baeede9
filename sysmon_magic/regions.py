"""NHN Cloud System Monitoring regions and their API base URLs."""

from __future__ import annotations

from collections.abc import Mapping

from .errors import SysmonUsageError

__all__ = ["PROMETHEUS_PATH", "REGIONS", "SCRAPE_INTERVAL", "region_api_root"]

#: Region code -> (base URL, human name), from the service's API guide.
REGIONS: Mapping[str, tuple[str, str]] = {
    "kr1": ("https://kr1-api-sysmon.cloud.toast.com", "Korea (Pangyo)"),
    "kr2": ("https://kr2-api-sysmon.cloud.toast.com", "Korea (Pyeongchon)"),
    "us1": ("https://us1-api-sysmon.cloud.toast.com", "United States"),
    "jp1": ("https://jp1-api-sysmon.cloud.toast.com", "Japan"),
    "gov": ("https://gov-api-sysmon.cloud.toast.com", "Korea (public sector)"),
}

#: The service mounts the Prometheus HTTP API under this path.
PROMETHEUS_PATH = "/prometheus"

#: Seconds between samples: the service collects every minute.
SCRAPE_INTERVAL = 60.0


def region_api_root(region: str, overrides: Mapping[str, str] | None = None) -> str:
    """Return the Prometheus API root (the part before ``/api/v1``) of a region.

    ``overrides`` maps region codes to other base URLs (tests, private endpoints).
    """
    code = region.strip().lower()
    if overrides and code in overrides:
        base = overrides[code]
    elif code in REGIONS:
        base = REGIONS[code][0]
    else:
        known = ", ".join(f"{c} ({name})" for c, (_, name) in REGIONS.items())
        raise SysmonUsageError(
            f"Unknown region {region!r}. Regions: {known}; or give base_url= for any Prometheus API."
        )
    return base.rstrip("/") + PROMETHEUS_PATH
