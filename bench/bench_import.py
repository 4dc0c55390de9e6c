"""Start-up cost: ``import faceguard``, ``faceguard --help``, ``faceguard check`` and
``faceguard audit verify`` against ``python -c pass``.

Each case runs in a fresh interpreter (the same one that runs this script, with the same
``PYTHONPATH``), several times, interleaved so that a busy machine slows every case alike;
the median wall time of each is printed with its ratio to the bare interpreter measured in
the same run, and the modules the case leaves loaded (of the heavy ones, and in all).
``check`` and ``audit verify`` run on a data directory made for the run by ``faceguard
init`` (its starter file fails the check: exit 1, after the whole check has run).

    python bench/bench_import.py --repeat 15
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEAVY = ("cv2", "dlib", "onnxruntime", "fastapi", "starlette", "uvicorn", "chinese_calendar",
         "jinja2", "fpdf", "babel", "PIL", "numpy", "sqlalchemy", "pydantic", "cryptography")

_REPORT = ("import atexit, json, sys\n"
           "def _r():\n"
           "    mods = sorted(m for m in " + repr(HEAVY) + " if m in sys.modules)\n"
           "    sys.stderr.write('\\nMODULES ' + json.dumps([len(sys.modules), mods]) + '\\n')\n"
           "atexit.register(_r)\n")

CLI = "from faceguard.cli.main import main; main()"


def cases(data: Path) -> dict[str, tuple[list[str], int]]:
    """Each case: the interpreter's arguments and the exit code it must end with."""
    return {
        "python -c pass": (["-c", "pass"], 0),
        "import faceguard": (["-c", "import faceguard"], 0),
        "faceguard --help": (["-c", CLI, "--help"], 0),
        "faceguard check": (["-c", CLI, "--data", str(data), "check"], 1),
        "faceguard audit verify": (["-c", CLI, "--data", str(data), "audit", "verify"], 0),
    }


def _run(case: tuple[list[str], int], report: bool) -> tuple[float, str]:
    args, expect = case
    if report:
        args = ["-c", _REPORT + args[1], *args[2:]]
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != expect:
        raise SystemExit(f"{args!r} exited {done.returncode}: {done.stderr[-2000:]}")
    return elapsed, done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data"
        init = subprocess.run([sys.executable, "-c", CLI, "--data", str(data), "init"],
                              capture_output=True, text=True, check=False)
        if init.returncode != 0:
            raise SystemExit(f"faceguard init failed: {init.stderr[-2000:]}")
        _measure(cases(data), opts.repeat, opts.json)


def _measure(table: dict[str, tuple[list[str], int]], repeat: int, as_json: bool) -> None:
    times: dict[str, list[float]] = {name: [] for name in table}
    for case in table.values():  # warm the file cache once
        _run(case, report=False)
    for _ in range(repeat):
        for name, case in table.items():
            times[name].append(_run(case, report=False)[0])
    base = statistics.median(times["python -c pass"])
    rows = []
    for name, case in table.items():
        median = statistics.median(times[name])
        loaded = json.loads(_run(case, report=True)[1].split("MODULES ", 1)[1])
        rows.append({"case": name, "median_s": round(median, 4),
                     "ratio": round(median / base, 2), "over_python_s": round(median - base, 4),
                     "modules": loaded[0], "heavy": loaded[1]})
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'case':22s} {'median':>8s} {'ratio':>6s} {'extra':>8s} {'modules':>8s}  heavy loaded")
    for row in rows:
        print(f"{row['case']:22s} {row['median_s']:8.3f} {row['ratio']:6.2f} "
              f"{row['over_python_s']:8.3f} {row['modules']:8d}  {' '.join(row['heavy'])}")


if __name__ == "__main__":
    main()
