import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

# Tests never depend on the user's environment; each gets its own workspace.
for var in ("RUNWIDGETS_RUN_ID", "RUNWIDGETS_WORKSPACE", "RUNWIDGETS_PORTAL_URL", "RUNWIDGETS_TRACKING_URI"):
    os.environ.pop(var, None)
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def ws(tmp_path):
    from runwidgets import Workspace

    return Workspace(tmp_path / "ws")


@pytest.fixture
def exp(ws):
    from runwidgets import Experiment

    return Experiment(ws, "tests")


@pytest.fixture
def run(exp):
    r = exp.start_logging()
    yield r
    if not r._closed:
        r.complete()
