"""Start-up: what ``%load_ext sysmon_magic`` adds over ``import pandas, IPython``; target 50 ms.

Each run is a fresh interpreter (imports are cached within one) that imports pandas and IPython,
creates the shell, and then times ``%load_ext sysmon_magic`` alone: the added cost measured
directly, not as the difference of two noisy ~800 ms totals. Median of several runs. The package's
bytecode is compiled first, as ``pip install`` does (with PYTHONDONTWRITEBYTECODE set, as on
this machine, an editable install would otherwise compile its modules on every start).

    python benchmarks/startup.py
"""

from __future__ import annotations

import compileall
import statistics
import subprocess
import sys
from pathlib import Path

import sysmon_magic

CODE = """
import time
started = time.perf_counter()
import pandas, IPython
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
loading = time.perf_counter()
shell.run_line_magic("load_ext", "sysmon_magic")
done = time.perf_counter()
print(loading - started, done - loading)
"""
RUNS = 11


def main() -> None:
    compileall.compile_dir(Path(sysmon_magic.__file__).parent, quiet=1)
    base, added = [], []
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-c", CODE], capture_output=True, text=True, check=True
        )
        first, second = map(float, out.stdout.split())
        base.append(first)
        added.append(second)
    print(f"{'measure':52} {'median':>9} {'baseline':>9} {'ratio':>6}  target")
    print(
        f"{'%load_ext sysmon_magic after import pandas, IPython':52} "
        f"{statistics.median(added) * 1000:7.1f}ms {statistics.median(base) * 1000:7.0f}ms "
        f"{statistics.median(added) / statistics.median(base):6.3f}  <= 50 ms added "
        "(baseline: import pandas, IPython)"
    )


if __name__ == "__main__":
    main()
