"""A real Dask cluster on 127.0.0.1: a `dask scheduler` and single-thread `dask worker` processes, each
in a working folder of its own, started and stopped by their own process ids."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


class DaskCluster:
    def __init__(self, base: Path, port: int, env: dict[str, str]) -> None:
        self.base, self.port, self.env = base, port, env
        self.address = f"tcp://127.0.0.1:{port}"
        self.scheduler: subprocess.Popen | None = None
        self.workers: dict[str, subprocess.Popen] = {}  # name -> process

    def _start(self, args: list[str], name: str) -> subprocess.Popen:
        folder = self.base / name
        folder.mkdir(parents=True, exist_ok=True)
        log = open(self.base / f"{name}.log", "ab")
        return subprocess.Popen([str(BIN / "dask"), *args], cwd=folder, env=self.env, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)  # fmt: skip

    def start(self, names=("w1", "w2")) -> None:
        self.scheduler = self._start(
            ["scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard"], "scheduler"
        )
        for name in names:
            self.start_worker(name)

    def start_worker(self, name: str) -> None:
        self.workers[name] = self._start(
            ["worker", self.address, "--nthreads", "1", "--no-nanny", "--name", name, "--host", "127.0.0.1",
             "--local-directory", str(self.base / name), "--no-dashboard"],
            name,
        )  # fmt: skip
        self.wait_for_workers()

    def folder(self, name: str) -> Path:
        return self.base / name

    def wait_for_workers(self, timeout: float = 60) -> None:
        from distributed import Client

        deadline = time.time() + timeout
        while True:
            try:
                with Client(self.address, timeout=5, set_as_default=False) as c:
                    names = {str(w["name"]) for w in c.scheduler_info(n_workers=-1)["workers"].values()}
                if names >= set(self.workers):
                    return
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError(f"workers {sorted(self.workers)} did not join {self.address}")
            time.sleep(0.3)

    def kill_worker(self, name: str) -> None:
        proc = self.workers.pop(name)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()

    def stop(self) -> None:
        from tests.browser.harness import stop_process

        for proc in [*self.workers.values(), self.scheduler]:
            if proc is not None:
                stop_process(proc, timeout=15)
        self.workers.clear()
