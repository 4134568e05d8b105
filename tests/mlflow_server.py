"""A real `mlflow server` on 127.0.0.1 (SQLite backend), started and stopped by its own pid."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


class MlflowServer:
    def __init__(self, base: Path, port: int) -> None:
        self.base, self.port = base, port
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> None:
        cmd = [
            sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(self.port),
            "--backend-store-uri", f"sqlite:///{self.base / 'mlflow.db'}",
            "--artifacts-destination", str(self.base / "artifacts"), "--workers", "1",
        ]  # fmt: skip
        log = open(self.base / "server.log", "ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)  # fmt: skip
        deadline = time.time() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"mlflow server did not start:\n{(self.base / 'server.log').read_text()[-3000:]}")
            time.sleep(0.3)

    def stop(self) -> None:
        from runwidgets._process import stop_group

        if self.proc is not None:
            stop_group(self.proc, 10.0)
            self.proc = None


def quick_failing_client_env() -> dict[str, str]:
    """MLflow's client retries for minutes by default; tests want a dead server noticed in seconds."""
    return {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "5"}


os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")


def seed_history(db: Path, run_id: str, key: str, steps: range, value=lambda i: 1.0 / (i + 1)) -> None:
    """Put points of ``key`` for ``steps`` straight into an MLflow SQLite database, and its latest value.

    MLflow's own API writes about 6,000 points/s here, so long histories for tests and benchmarks
    are inserted directly; what is then measured, MLflow's read path, is MLflow's own.
    """
    import sqlite3

    now = int(time.time() * 1000)
    con = sqlite3.connect(db)
    con.executemany(
        "INSERT INTO metrics(key, value, timestamp, run_uuid, step, is_nan) VALUES(?,?,?,?,?,0)",
        ((key, value(i), now + i, run_id, i) for i in steps),
    )
    last = steps[-1]
    con.execute(
        "INSERT OR REPLACE INTO latest_metrics(key, value, timestamp, step, is_nan, run_uuid) VALUES(?,?,?,?,0,?)",
        (key, value(last), now + last, last, run_id),
    )
    con.commit()
    con.close()
