"""Start-up: what ``%load_ext sysmon_magic`` adds over ``import pandas, IPython``; target 50 ms.

Each measure is a fresh interpreter (imports are cached within one), median of several runs.

    python benchmarks/startup.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys

BASELINE = (
    "import time; t = time.perf_counter(); import pandas, IPython; "
    "from IPython.core.interactiveshell import InteractiveShell; sh = InteractiveShell.instance(); "
)
RUNS = 7


def measure(extra: str) -> float:
    code = BASELINE + extra + "print(time.perf_counter() - t)"
    times = []
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def main() -> None:
    base = measure("")
    loaded = measure("sh.run_line_magic('load_ext', 'sysmon_magic'); ")
    added = loaded - base
    print(f"{'measure':52} {'median':>9} {'baseline':>9} {'added':>7}  target")
    print(
        f"{'import pandas, IPython + %load_ext sysmon_magic':52} {loaded * 1000:7.0f}ms "
        f"{base * 1000:7.0f}ms {added * 1000:5.0f}ms  <= 50 ms added"
    )


if __name__ == "__main__":
    main()
