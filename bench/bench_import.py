"""Start-up cost: ``import faceguard`` and ``faceguard --help`` against ``python -c pass``.

Each case runs in a fresh interpreter (the same one that runs this script, with the same
``PYTHONPATH``), several times, interleaved so that a busy machine slows every case alike;
the median wall time of each is printed with its ratio to the bare interpreter measured in
the same run, and the modules the case leaves loaded (of the heavy ones, and in all).

    python bench/bench_import.py --repeat 15
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

HEAVY = ("cv2", "dlib", "onnxruntime", "fastapi", "starlette", "uvicorn", "chinese_calendar",
         "jinja2", "fpdf", "babel", "PIL", "numpy", "sqlalchemy", "pydantic", "cryptography")

_REPORT = ("import atexit, json, sys\n"
           "def _r():\n"
           "    mods = sorted(m for m in " + repr(HEAVY) + " if m in sys.modules)\n"
           "    sys.stderr.write('\\nMODULES ' + json.dumps([len(sys.modules), mods]) + '\\n')\n"
           "atexit.register(_r)\n")

CASES: dict[str, list[str]] = {
    "python -c pass": ["-c", "pass"],
    "import faceguard": ["-c", "import faceguard"],
    "faceguard --help": ["-c", "from faceguard.cli.main import main; main()", "--help"],
}


def _run(args: list[str], report: bool) -> tuple[float, str]:
    if report:
        args = ["-c", _REPORT + args[1], *args[2:]]
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{args!r} failed: {done.stderr[-2000:]}")
    return elapsed, done.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    opts = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in CASES}
    for args in CASES.values():  # warm the file cache once
        _run(args, report=False)
    for _ in range(opts.repeat):
        for name, args in CASES.items():
            times[name].append(_run(args, report=False)[0])
    base = statistics.median(times["python -c pass"])
    rows = []
    for name, args in CASES.items():
        median = statistics.median(times[name])
        loaded = json.loads(_run(args, report=True)[1].split("MODULES ", 1)[1])
        rows.append({"case": name, "median_s": round(median, 4),
                     "ratio": round(median / base, 2), "over_python_s": round(median - base, 4),
                     "modules": loaded[0], "heavy": loaded[1]})
    if opts.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'case':18s} {'median':>8s} {'ratio':>6s} {'extra':>8s} {'modules':>8s}  heavy loaded")
    for row in rows:
        print(f"{row['case']:18s} {row['median_s']:8.3f} {row['ratio']:6.2f} "
              f"{row['over_python_s']:8.3f} {row['modules']:8d}  {' '.join(row['heavy'])}")


if __name__ == "__main__":
    main()
