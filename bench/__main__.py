"""`make bench`: every benchmark in one run, printed as one table beside MLflow."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from .common import print_table

SECTIONS = ["store", "submit", "widget", "mlflow", "peers", "scale", "portal"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke test")
    ap.add_argument("--only", choices=SECTIONS, action="append", help="run only these sections")
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="rw-bench-") as tmp:
        for name in args.only or SECTIONS:
            t = time.perf_counter()
            print(f"[bench] {name} ...", file=sys.stderr, flush=True)
            module = __import__(f"bench.{name}_bench", fromlist=["run"])
            section_dir = Path(tmp) / name
            section_dir.mkdir()
            rows += module.run(section_dir, args.quick)
            print(f"[bench] {name} took {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
