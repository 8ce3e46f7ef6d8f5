"""Run every benchmark in this folder and print one JSON object on stdout.

Each ``bench_<name>.py`` defines ``run() -> dict`` returning its measurements (times in
seconds, with the statistic named: ``median_s``, ``min_s``, ``repeats``). Benchmarks are kept
apart from the tests: the suite asserts results, this measures speed.
"""

from __future__ import annotations

import importlib.util
import json
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    results: dict[str, object] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    only = set(sys.argv[1:])
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem.removeprefix("bench_")
        if only and name not in only:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print(f"running {name} ...", file=sys.stderr)
        results[name] = module.run()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
