"""Units of PromQL results, from the parse tree: expressions of real dashboards -> Grafana ids,
axis ticks, and Grafana ids given as overrides. All on literals."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sysmon_magic.units import GRAFANA_UNIT_IDS, Unit, unit_from_grafana, unit_of

CPU_BUSY = '100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])))'

EXPRESSIONS = [
    # the three that plotting.unit_for got wrong
    ("rate(x_bytes_total[5m]) * 8", "bps"),
    ('100 * (1 - avg(rate(node_cpu_seconds_total{mode="idle"}[5m])))', "percent"),
    ("count(count(node_cpu_seconds_total) by (cpu))", "short"),
    # node_exporter full
    (CPU_BUSY, "percent"),
    (
        'sum by (instance) (irate(node_cpu_seconds_total{mode!="idle"}[5m])) / on(instance)'
        " group_left sum by (instance) (irate(node_cpu_seconds_total[5m])) * 100",
        "percent",
    ),
    ("(1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes) * 100", "percent"),
    ("100 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes * 100", "percent"),
    ("node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes", "bytes"),
    ("rate(node_network_receive_bytes_total[5m]) * 8", "bps"),
    ("irate(node_network_transmit_bytes_total[5m]) * -8", "bps"),  # mirrored below the axis
    ("-rate(node_network_transmit_bytes_total[5m]) * 8", "bps"),
    ("rate(node_disk_read_bytes_total[5m])", "binBps"),
    ("rate(node_disk_reads_completed_total[5m])", "cps"),  # IOPS
    ("rate(node_disk_io_time_seconds_total[5m])", "percentunit"),  # utilisation
    ("node_filesystem_avail_bytes", "bytes"),
    ("node_filesystem_avail_bytes / node_filesystem_size_bytes", "percentunit"),
    (
        "(node_filesystem_size_bytes - node_filesystem_avail_bytes) / node_filesystem_size_bytes"
        " * 100",
        "percent",
    ),
    ("node_load1", None),
    ("time() - node_boot_time_seconds", "s"),
    ("node_time_seconds - node_boot_time_seconds", "s"),
    ("(time() - node_boot_time_seconds) / 86400", "d"),
    ("node_boot_time_seconds", "dateTimeAsIso"),
    ("process_start_time_seconds", "dateTimeAsIso"),
    ("node_hwmon_temp_celsius", "celsius"),
    ("rate(node_context_switches_total[5m])", "cps"),
    ("predict_linear(node_filesystem_avail_bytes[6h], 4 * 3600)", "bytes"),
    ("deriv(node_filesystem_free_bytes[1h])", "binBps"),
    # latency, errors, traffic
    (
        "histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
        "s",
    ),
    ("histogram_quantile(0.99, rate(http_request_duration_seconds_bucket[5m]))", "s"),
    ("histogram_quantile(0.99, rate(http_request_size_bytes_bucket[5m]))", "bytes"),
    ("histogram_quantile(0.5, rate(queue_depth_bucket[5m]))", None),  # observed unit unknown
    ("histogram_quantile(0.9, rate(a_seconds_bucket[5m]) + rate(b_seconds_bucket[5m]))", None),
    ("histogram_avg(rate(http_request_duration_seconds[5m]))", "s"),
    ("histogram_sum(http_request_duration_seconds)", "s"),
    ("histogram_sum(rate(http_request_duration_seconds[5m]))", "percentunit"),  # s per s
    ("histogram_count(rate(http_request_duration_seconds[5m]))", "cps"),
    ("histogram_count(increase(http_request_duration_seconds[1h]))", "short"),
    ("histogram_fraction(0, 0.2, rate(http_request_duration_seconds[5m]))", "percentunit"),
    ("rate(x_seconds_sum[5m]) / rate(x_seconds_count[5m])", "s"),
    ("rate(x_seconds_sum[5m]) / rate(x_seconds_count[5m]) * 1000", "ms"),
    ("rate(x_seconds_count[5m])", "cps"),
    ("sum by (le) (rate(x_seconds_bucket[5m]))", "cps"),
    (
        'sum(rate(http_requests_total{code=~"5.."}[5m])) / sum(rate(http_requests_total[5m]))',
        "percentunit",
    ),
    ("increase(http_requests_total[1h])", "short"),
    ("sum(rate(http_requests_total[5m])) * 60", "cpm"),
    ("sum(rate(http_requests_total[5m])) * 3600", "suffix:/h"),
    ("rate(node_energy_joules_total[5m])", "watt"),
    ("node_power_watts", "watt"),
    ("rate(x_bytes_total[5m]) / rate(x_total[5m])", "bytes"),  # per request
    # conversions by a literal, and factors that are none
    ("x_bytes / 1024 / 1024", "mbytes"),
    ("x_bytes / 1024^3", "gbytes"),
    ("x_bytes / (1024 * 1024 * 1024 * 1024)", "tbytes"),
    ("x_bytes / 1e9", "decgbytes"),
    ("x_bytes / 1000", "deckbytes"),
    ("rate(x_bytes_total[5m]) / 1024", "KiBs"),
    ("rate(x_bytes_total[5m]) / 1e6", "MBs"),
    ("rate(x_bytes_total[5m]) * 8 / 1e6", "Mbits"),
    ("rate(x_bytes_total[5m]) * 8 / 1000 / 1000 / 1000", "Gbits"),
    ("x_bytes * 8", "decbits"),
    ("x_bytes * 8 / 1e6", "suffix:Mbit"),
    ("x_seconds * 1000", "ms"),
    ("x_seconds / 60", "m"),
    ("x_seconds / 3600", "h"),
    ("x_ratio", "percentunit"),
    ("x_ratio * 100", "percent"),
    ("x_ratio * 100 / 100", "percentunit"),
    ("x_ratio * 0.01", None),
    ("x_bytes * 1", "bytes"),
    ("sum(x_bytes) / 2", None),
    ("x_bytes * 1024", None),
    ("x_bytes / 8", None),
    ("x_seconds * 100", None),
    ("x_bytes / 0", None),
    ("1 / x_seconds", "hertz"),
    ("2 / x_seconds", None),
    ("1 / rate(x_total[5m])", "s"),  # seconds between events
    # matching, filters, sets
    (
        "rate(node_network_receive_bytes_total[5m]) * on(instance) group_left(nodename)"
        " node_uname_info",
        "binBps",
    ),
    ("node_uname_info", None),
    ("rate(x_bytes_total[5m]) > 0", "binBps"),
    ("0 < rate(x_bytes_total[5m])", "binBps"),
    ("rate(x[5m]) > bool 0", None),
    ("x_bytes > bool 0", None),
    ("sum(rate(http_requests_total[5m])) or vector(0)", "cps"),
    ("vector(0) or sum(rate(http_requests_total[5m]))", "cps"),
    ("x_bytes or y_bytes", "bytes"),
    ("x_bytes or y_seconds", None),
    ("x_bytes and on(instance) up == 1", "bytes"),
    ("x_bytes unless y_seconds", "bytes"),
    ("x_bytes % 1024", "bytes"),
    ("x_bytes ^ 2", None),
    ("x_bytes atan2 y_bytes", None),
    ("x_bytes * y_bytes", None),
    ("x_bytes + y_bytes", "bytes"),
    ("x_bytes + y_seconds", None),
    ("x_bytes + 1", "bytes"),
    ("1 - x_ratio", "percentunit"),
    # timestamps
    ("time()", "dateTimeAsIso"),
    ("timestamp(up)", "dateTimeAsIso"),
    ("time() - timestamp(up)", "s"),
    ("node_boot_time_seconds + 60", "dateTimeAsIso"),
    ("node_boot_time_seconds + x_seconds", "dateTimeAsIso"),
    ("node_boot_time_seconds + node_boot_time_seconds", None),
    ("node_boot_time_seconds * 1000", None),
    ("60 - node_boot_time_seconds", None),
    ("-time()", None),
    ("x_created", "dateTimeAsIso"),
    # functions and aggregations
    ("count_over_time(x[5m])", "short"),
    ("changes(x[1h])", "short"),
    ("resets(x_total[1h])", "short"),
    ('count_values("version", build_info_x)', "short"),
    ("max_over_time(x_bytes[1h:1m])", "bytes"),
    ("quantile_over_time(0.9, x_seconds[1h])", "s"),
    ("last_over_time(x_celsius[10m])", "celsius"),
    ("stdvar_over_time(x_seconds[1h])", None),
    ("present_over_time(x_bytes[5m])", None),
    ("absent(up)", None),
    ("hour()", None),
    ("ln(x_bytes)", None),
    ("sqrt(x_seconds)", None),
    ("abs(x_volts)", "volt"),
    ("clamp_min(x_amperes, 0)", "amp"),
    ("round(x_joules, 10)", "joule"),
    ('label_replace(x_grams, "a", "$1", "b", "(.*)")', "massg"),
    ("sort_desc(x_meters)", "lengthm"),
    ("x_hertz", "hertz"),
    ("scalar(sum(x_bytes))", "bytes"),
    ("vector(1)", None),
    ("42", None),
    ("topk(5, rate(x_bytes_total[5m]))", "binBps"),
    ("quantile(0.9, x_seconds)", "s"),
    ("group(x_bytes)", None),
    ("stdvar(x_bytes)", None),
    ("sum(x_bytes offset 1h)", "bytes"),
    ('{__name__="x_bytes", job="a"}', "bytes"),
    ('{__name__=~"x_.*"}', None),
    ("x_total", "short"),
    ("x_bytes_sum", "bytes"),
    ("x_sum", None),
    ("x_percent", None),  # not a Prometheus unit: 0-1 or 0-100, nobody can say
    ("up", None),
    # what the client-side parser refuses is unknown, never an error
    ("rate(x_bytes_total[5m]", None),
    ("rate(x_bytes_total[step()])", None),
    ("", None),
    ("2 ^ 1e6 * x_bytes", None),  # a power too large to compute exactly, for no unit
]


@pytest.mark.parametrize(("query", "grafana_id"), EXPRESSIONS)
def test_unit_of(query: str, grafana_id: str | None) -> None:
    unit = unit_of(query)
    assert (unit.grafana_id if unit else None) == grafana_id


@pytest.mark.parametrize(
    ("query", "label"),
    [
        ("rate(x_bytes_total[5m]) * 8", "bits per second"),
        ("rate(x_bytes_total[5m])", "bytes per second"),
        ("x_bytes", "bytes"),
        (CPU_BUSY, "percent"),
        ("rate(x_seconds_total[5m])", "percent"),
        ("count(up)", "count"),
        ("time() - node_boot_time_seconds", "duration"),
        ("rate(x_total[5m])", "per second"),
        ("rate(x_total[5m]) * 60", "per minute"),
        ("x_celsius", "temperature"),
        ("node_boot_time_seconds", "time"),
    ],
)
def test_labels(query: str, label: str) -> None:
    unit = unit_of(query)
    assert unit is not None and unit.label == label


def test_a_tree_deeper_than_pythons_stack_is_unknown() -> None:
    assert unit_of("(" * 2000 + "x_bytes" + ")" * 2000) is None


@given(st.text(alphabet="xyz_bytes(){}[]5m*/+-<>=! 0.1,\"'`by", max_size=40))
def test_unit_of_never_raises(query: str) -> None:
    unit = unit_of(query)
    assert unit is None or isinstance(unit, Unit)


def shown(unit: Unit | None, largest: float) -> tuple[float, str]:
    """The largest value as an axis shows it: (number, symbol)."""
    assert unit is not None
    scale, symbol = unit.ticks(largest)
    return largest / scale, symbol


@pytest.mark.parametrize(
    ("query", "largest", "number", "symbol"),
    [
        ("rate(x_bytes_total[5m]) * 8", 48.8e6, 48.8, "Mbit/s"),
        ("rate(x_bytes_total[5m]) * 8", 950, 950, "bit/s"),
        ("rate(x_bytes_total[5m]) * 8 / 1e6", 2500, 2.5, "Gbit/s"),  # Mbit/s, scaled on
        ("x_bytes", 3 * 1024**3, 3, "GiB"),
        ("x_bytes", 1000, 1000, "B"),
        ("x_bytes / 1024", 2048, 2, "MiB"),  # KiB values, shown in MiB
        ("x_bytes / 1e9", 0.5, 500, "MB"),
        ("rate(x_bytes_total[5m])", 5 * 1024**2, 5, "MiB/s"),
        ("rate(x_seconds_total[5m])", 0.25, 25, "%"),
        ("x_ratio * 100", 25, 25, "%"),
        ("x_seconds", 0.25, 250, "ms"),
        ("x_seconds * 1000", 5000, 5, "s"),
        ("x_seconds", 7200, 2, "h"),
        ("time() - node_boot_time_seconds", 3 * 86400, 3, "d"),
        ("x_seconds", 0, 0, "s"),
        ("count(up)", 1234, 1234, ""),
        ("rate(x_total[5m])", 12, 12, "/s"),
        ("rate(x_total[5m]) * 60", 720, 720, "/min"),
        ("x_celsius", 71.5, 71.5, "°C"),
    ],
)
def test_ticks(query: str, largest: float, number: float, symbol: str) -> None:
    value, shown_symbol = shown(unit_of(query), largest)
    assert (value, shown_symbol) == (pytest.approx(number), symbol)


def test_ticks_of_an_empty_or_broken_axis_use_the_base_unit() -> None:
    assert shown(unit_of("x_bytes"), float("nan"))[1] == "B"
    assert shown(unit_of("x_seconds"), float("inf"))[1] == "s"


def test_ticks_of_timestamps_leave_the_dates_to_the_plot() -> None:
    unit = unit_of("node_boot_time_seconds")
    assert unit is not None and unit.ticks(1.7e9) == (1.0, "")


@pytest.mark.parametrize(
    ("grafana_id", "largest", "number", "symbol", "label"),
    [
        ("percent", 42, 42, "%", "percent"),
        ("percentunit", 0.42, 42, "%", "percent"),
        ("bytes", 3 * 1024**3, 3, "GiB", "bytes"),  # Grafana's bytes are IEC
        ("decbytes", 3e9, 3, "GB", "bytes"),
        ("bits", 2048, 2, "Kibit", "bits"),  # and so are its bits
        ("decbits", 2000, 2, "kbit", "bits"),
        ("Bps", 2e6, 2, "MB/s", "bytes per second"),  # Grafana's Bps and bps are SI
        ("binBps", 2 * 1024**2, 2, "MiB/s", "bytes per second"),
        ("bps", 48.8e6, 48.8, "Mbit/s", "bits per second"),
        ("binbps", 1024, 1, "Kibit/s", "bits per second"),
        ("s", 0.002, 2, "ms", "duration"),
        ("ms", 250, 250, "ms", "duration"),
        ("µs", 1500, 1.5, "ms", "duration"),
        ("us", 1500, 1.5, "ms", "duration"),
        ("ns", 500, 500, "ns", "duration"),
        ("m", 90, 1.5, "h", "duration"),
        ("h", 48, 2, "d", "duration"),
        ("d", 2, 2, "d", "duration"),
        ("short", 12, 12, "", ""),
        ("none", 12, 12, "", ""),
        ("reqps", 3, 3, "req/s", "requests per second"),
        ("ops", 3, 3, "ops/s", "operations per second"),
        ("cps", 3, 3, "/s", "per second"),
        ("rps", 3, 3, "reads/s", "reads per second"),
        ("iops", 3, 3, "io/s", "I/O operations per second"),
        ("celsius", 60, 60, "°C", "temperature"),
        ("volt", 12, 12, "V", "voltage"),
        ("amp", 2, 2, "A", "current"),
        ("watt", 300, 300, "W", "power"),
        ("joule", 5, 5, "J", "energy"),
        ("hertz", 50, 50, "Hz", "frequency"),
        ("dateTimeAsIso", 1.7e9, 1.7e9, "", "time"),
        ("kbytes", 2048, 2, "MiB", "bytes"),
        ("mbytes", 512, 512, "MiB", "bytes"),
        ("gbytes", 2048, 2, "TiB", "bytes"),
        ("deckbytes", 2000, 2, "MB", "bytes"),
        ("decmbytes", 2000, 2, "GB", "bytes"),
        ("decgbytes", 2, 2, "GB", "bytes"),
    ],
)
def test_unit_from_grafana(
    grafana_id: str, largest: float, number: float, symbol: str, label: str
) -> None:
    unit = unit_from_grafana(grafana_id)
    assert unit is not None and unit.label == label
    value, shown_symbol = shown(unit, largest)
    assert (value, shown_symbol) == (pytest.approx(number), symbol)


def test_unit_from_grafana_knows_its_ids_and_nothing_else() -> None:
    assert all(unit_from_grafana(unit_id) is not None for unit_id in GRAFANA_UNIT_IDS)
    assert unit_from_grafana("furlongs") is None
    assert unit_from_grafana(" percent ") == unit_from_grafana("percent")
    assert unit_from_grafana("us") == unit_from_grafana("µs")


def test_an_override_and_a_derived_unit_of_the_same_id_agree() -> None:
    # What unit_of answers can be written back as a Grafana unit and read again, unchanged
    # (except a count: by id, Grafana's "short" is a plain number without a label).
    for query, _ in EXPRESSIONS:
        unit = unit_of(query)
        if unit is not None and unit.grafana_id != "short":
            assert unit_from_grafana(unit.grafana_id) == unit
