"""System metrics of a run: CPU, memory, disk, network and GPUs, sampled in a thread.

Names are MLflow's (``system/cpu_utilization_percentage`` ...), so on an MLflow
store they appear in its System Metrics tab; the run's own process tree adds
``system/process_*``. Network and disk count from the run's start (MLflow's
meaning), never since boot. GPUs are read through nvidia-ml-py when a driver is
there; without one there are no GPU metrics and no error.

The first sample is taken at once, then one every ``interval`` seconds
($RUNWIDGETS_SYSTEM_METRICS_INTERVAL, 10 by default).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

import psutil

from ..store.base import SCALAR, PointBatch, RunStore, SeriesKey, env_seconds

log = logging.getLogger("runwidgets")

PREFIX = "system/"
DEFAULT_INTERVAL = 10.0
MB = 1e6  # MLflow's megabytes are 10^6 bytes


def interval_seconds() -> float:
    return env_seconds("RUNWIDGETS_SYSTEM_METRICS_INTERVAL", DEFAULT_INTERVAL)


def enabled_by_env() -> bool:
    return os.environ.get("RUNWIDGETS_SYSTEM_METRICS", "").strip().lower() in ("1", "true", "yes", "on")


class _Gpus:
    """NVIDIA GPUs through nvidia-ml-py (``pynvml``); empty where there is no driver or no package."""

    def __init__(self) -> None:
        self.handles: list[Any] = []
        try:
            import pynvml

            pynvml.nvmlInit()
            self.nvml = pynvml
            self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
        except Exception:  # no package, no driver, no device: no GPU metrics
            self.handles = []

    def sample(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for i, h in enumerate(self.handles):
            n = self.nvml
            try:
                mem = n.nvmlDeviceGetMemoryInfo(h)
                out[f"gpu_{i}_memory_usage_megabytes"] = mem.used / MB
                out[f"gpu_{i}_memory_usage_percentage"] = 100.0 * mem.used / mem.total
                out[f"gpu_{i}_utilization_percentage"] = float(n.nvmlDeviceGetUtilizationRates(h).gpu)
                out[f"gpu_{i}_power_usage_watts"] = n.nvmlDeviceGetPowerUsage(h) / 1000.0
            except Exception:  # one query a card does not support: skip the rest of that card
                continue
        return out


class SystemSampler:
    """One sample of the machine and of the process tree under ``pid`` (counters relative to creation)."""

    def __init__(self, pid: int | None = None) -> None:
        self.pid = pid
        psutil.cpu_percent(None)  # starts the machine-wide CPU clock: the next call measures from here
        net, disk = psutil.net_io_counters(), psutil.disk_io_counters()
        self.net0 = (net.bytes_recv, net.bytes_sent) if net else (0, 0)
        self.disk0 = (disk.read_bytes, disk.write_bytes) if disk else (0, 0)
        self.procs: dict[int, psutil.Process] = {}  # kept between samples: cpu_percent needs the last call
        self.gpus = _Gpus()
        self._tree()  # starts each process's CPU clock

    def _tree(self) -> list[psutil.Process]:
        if not self.pid:
            return []
        try:
            root = self.procs.get(self.pid) or psutil.Process(self.pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.Error:
            return []
        procs = []
        for p in tree:
            kept = self.procs.setdefault(p.pid, p)
            if kept is not p and kept.create_time() != p.create_time():  # a reused pid: a new process
                kept = self.procs[p.pid] = p
            procs.append(kept)
        for gone in set(self.procs) - {p.pid for p in procs}:
            del self.procs[gone]
        return procs

    def sample(self) -> dict[str, float]:
        vm = psutil.virtual_memory()
        out: dict[str, float] = {
            "cpu_utilization_percentage": psutil.cpu_percent(None),
            "system_memory_usage_megabytes": (vm.total - vm.available) / MB,
            "system_memory_usage_percentage": 100.0 * (vm.total - vm.available) / vm.total,
        }
        try:
            du = psutil.disk_usage(os.sep)
            out.update(disk_usage_percentage=du.percent, disk_usage_megabytes=du.used / MB,
                       disk_available_megabytes=du.free / MB)  # fmt: skip
        except OSError:
            pass
        net, disk = psutil.net_io_counters(), psutil.disk_io_counters()
        if net:
            out["network_receive_megabytes"] = (net.bytes_recv - self.net0[0]) / MB
            out["network_transmit_megabytes"] = (net.bytes_sent - self.net0[1]) / MB
        if disk:
            out["disk_read_megabytes"] = (disk.read_bytes - self.disk0[0]) / MB
            out["disk_write_megabytes"] = (disk.write_bytes - self.disk0[1]) / MB
        procs = self._tree()
        if procs:
            cpu = rss = 0.0
            for p in procs:
                try:
                    with p.oneshot():
                        cpu += p.cpu_percent(None)
                        rss += p.memory_info().rss
                except psutil.Error:
                    continue
            out.update(process_cpu_utilization_percentage=cpu, process_memory_rss_megabytes=rss / MB,
                       process_count=float(len(procs)))  # fmt: skip
        out.update(self.gpus.sample())
        return {PREFIX + k: round(float(v), 3) for k, v in out.items()}


class SystemMonitor:
    """Samples in a daemon thread and writes each sample to the run as ``system/*`` metrics (step = sample)."""

    def __init__(self, store: RunStore, run_id: str, pid: int | None = None, interval: float | None = None) -> None:
        self.store, self.run_id = store, run_id
        self.interval = interval if interval is not None else interval_seconds()
        self.sampler = SystemSampler(pid)
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"runwidgets-system-{run_id}", daemon=True)

    def start(self) -> SystemMonitor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        failing = False
        time.sleep(0.1)  # CPU percentages need a little time since the clocks were started
        while not self._stop.is_set():
            try:
                self.write(self.sampler.sample())
                failing = False
            except Exception as e:  # a busy store or a vanished process must not end the run
                if not failing:
                    log.warning("runwidgets: system metrics of %s not written: %s", self.run_id, e)
                failing = True
            if self._stop.wait(self.interval):
                break

    def write(self, sample: dict[str, float]) -> None:
        now, step = time.time(), self.samples
        batches = [PointBatch(SeriesKey(self.run_id, k, SCALAR), [v], [step], [now]) for k, v in sample.items()]
        self.store.write_points(self.run_id, batches, {})
        self.samples += 1
