"""Where a workspace's dashboard serves, so that a notebook's "Open run page" leads to it.

``runwidgets dashboard`` records its URL and process id in the workspace folder
while it runs; a run's link uses that URL, and with no dashboard running the
header says how to start one instead of linking to a page that does not answer.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

RECORD = "dashboard.json"
log = logging.getLogger("runwidgets")


def record_dashboard(folder: Path, url: str, pid: int) -> None:
    """Say the dashboard at ``url`` (process ``pid``) serves this workspace. A read-only folder: said nowhere."""
    target = folder / RECORD
    tmp = folder / f".{RECORD}.{os.getpid()}"
    try:
        tmp.write_text(json.dumps({"url": url, "pid": pid}))
        os.replace(tmp, target)
    except OSError as e:
        log.debug("runwidgets: cannot record the dashboard in %s: %s", folder, e)
        tmp.unlink(missing_ok=True)


def forget_dashboard(folder: Path, pid: int) -> None:
    """Remove the record if it is still this dashboard's (another may have started since)."""
    target = folder / RECORD
    try:
        if json.loads(target.read_text()).get("pid") == pid:
            target.unlink()
    except (OSError, ValueError, AttributeError):
        pass


def running_dashboard(folder: Path) -> str | None:
    """The URL of the dashboard serving this workspace from this machine, if its process lives."""
    try:
        rec = json.loads((folder / RECORD).read_text())
        url, pid = str(rec["url"]), int(rec["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, another user's
    return url
