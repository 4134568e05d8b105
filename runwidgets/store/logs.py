"""Reading a run's log files past an offset, whole lines at a time."""

from __future__ import annotations

import os
from pathlib import Path

from .files import LOG_DIRS

LOG_FIRST_READ_BYTES = 256 * 1024  # a reader joining late starts this far from a log's end
MAX_PARTIAL = 65536  # a line longer than this is passed on unfinished


def read_new_log_text(run_dir: Path, run_id: str, offsets) -> list[tuple[str, str, int]]:
    """(``azureml-logs/<file>``, new text, new offset) for each log file of the run that grew past its offset."""
    out: list[tuple[str, str, int]] = []
    entries = []
    for folder in LOG_DIRS:
        try:
            entries += [(f"{folder}/{e.name}", e) for e in os.scandir(run_dir / folder)]
        except FileNotFoundError:
            pass
    for name, entry in entries:
        if not entry.is_file():
            continue
        known = offsets.get((run_id, name))
        size = entry.stat().st_size
        if known is not None and size <= known:
            continue
        off = known if known is not None else max(0, size - LOG_FIRST_READ_BYTES)
        with open(entry.path, "rb") as f:
            f.seek(off)
            data = f.read(size - off)
        if off and known is None:  # joined late: drop the partial first line
            cut = data.find(b"\n")
            off, data = off + cut + 1, data[cut + 1 :]
        end = data.rfind(b"\n")
        if end < 0 and len(data) < MAX_PARTIAL:
            out.append((name, "", off))  # wait for the line to finish
            continue
        take = data if end < 0 else data[: end + 1]
        out.append((name, take.decode("utf-8", errors="replace"), off + len(take)))
    return sorted(out)
