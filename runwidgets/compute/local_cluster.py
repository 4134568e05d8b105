"""A cluster made by ``ComputeTarget.create``: ``python -m runwidgets.compute.local_cluster WORKSPACE NAME``.

A Dask ``LocalCluster`` on 127.0.0.1 in this process, detached from the
notebook; its scheduler's address goes into the workspace's target record, and
it runs until SIGTERM (``target.delete()``) or SIGINT.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path

from .._process import exit_on_signal
from .registry import Registry


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m runwidgets.compute.local_cluster WORKSPACE NAME", file=sys.stderr)
        return 2
    registry, name = Registry(Path(argv[0])), argv[1]
    rec = registry.get(name)
    if rec is None:
        print(f"no compute target {name!r} in {argv[0]}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, exit_on_signal)
    from distributed import LocalCluster

    try:
        cluster = LocalCluster(
            name=name,
            n_workers=rec.n_workers or 2,
            threads_per_worker=rec.threads_per_worker or 1,
            memory_limit=rec.memory_limit or "auto",
            processes=True,
            host="127.0.0.1",
            scheduler_port=0,
            dashboard_address=None,
        )
    except Exception as e:
        registry.update(name, error=f"{type(e).__name__}: {e}")
        raise
    try:
        registry.update(name, address=cluster.scheduler_address)
        print(f"{time.strftime('%H:%M:%S')} {name}: scheduler at {cluster.scheduler_address}", flush=True)
        threading.Event().wait()
    finally:
        cluster.close()
        print(f"{time.strftime('%H:%M:%S')} {name}: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
