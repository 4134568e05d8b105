"""The user's workspace: nothing escapes it, and every failure is one line a person can act on."""

import io
import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from clitools import cli

from runwidgets import Experiment, Workspace
from runwidgets.store.errors import DamagedWorkspace, SchemaError, StoreFull, WorkspaceError
from runwidgets.store.sqlite import SqliteStore
from runwidgets.tracking import workspace

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


# -- paths ---------------------------------------------------------------------------------------


def test_run_ids_and_file_names_cannot_leave_the_workspace(exp, ws, tmp_path):
    run = exp.start_logging()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    for bad in ("../../../x", "a/b", "..", ".hidden", "", "x" * 300):
        with pytest.raises(ValueError):
            run.child_run(run_id=bad)
        with pytest.raises((KeyError, ValueError)):
            ws.store.get_run(bad)
    for name in ("../x", "/etc/passwd", "a/../../x", "C:/x", "logs/../../../x"):
        with pytest.raises(ValueError):
            run.upload_file(name, io.BytesIO(b"x"))
        with pytest.raises(ValueError):
            ws.store.read_file(run.id, name)
    # a symlink inside the run's folder that leads out: neither written through nor read through
    run_dir = ws.store.run_dir(run.id)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "outputs").symlink_to(outside, target_is_directory=True)
    (run_dir / "leak.txt").symlink_to(outside / "secret.txt")
    with pytest.raises(ValueError, match="leads out"):
        run.upload_file("outputs/new.txt", io.BytesIO(b"x"))
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    with pytest.raises(ValueError, match="leads out"):
        run.download_file("leak.txt", tmp_path / "got.txt")
    with pytest.raises(ValueError):
        ws.store.read_file(run.id, "outputs/secret.txt")
    assert "leak.txt" not in run.get_file_names() and not any("secret" in n for n in run.get_file_names())
    assert not (tmp_path / "got.txt").exists()
    run.complete()


def test_a_failed_upload_leaves_no_file(exp):
    run = exp.start_logging()

    class Broken(io.RawIOBase):
        def __init__(self):
            self.sent = 0

        def readable(self):
            return True

        def readinto(self, b):
            if self.sent > 100_000:
                raise OSError("connection reset while reading")
            b[: len(b)] = b"x" * len(b)
            self.sent += len(b)
            return len(b)

    with pytest.raises(OSError, match="connection reset"):
        run.upload_file("outputs/model.pkl", io.BufferedReader(Broken()))
    assert run.get_file_names() == []
    run.upload_file("outputs/model.pkl", io.BytesIO(b"whole"))
    assert run.get_file_names() == ["outputs/model.pkl"]
    assert [p.name for p in (run._store.run_dir(run.id) / "outputs").iterdir()] == ["model.pkl"]
    run.complete()


# -- a full disk -----------------------------------------------------------------------------------


def test_database_full_is_said_once_and_nothing_logged_is_lost(exp, ws, caplog):
    """SQLITE_FULL through max_page_count: the real error, said once; the points wait and are written later."""
    run = exp.start_logging()
    run.log("x", 0.0)
    run.flush()
    store = ws.store
    pages = store._w.execute("PRAGMA page_count").fetchone()[0]
    store._w.execute(f"PRAGMA max_page_count={pages}")
    with pytest.raises(StoreFull, match="is full"):  # not "cannot rollback - no transaction is active"
        run.log_list("big", [float(i) for i in range(200_000)])
        run.flush()
    from runwidgets.tracking.flusher import FLUSHER

    caplog.set_level(logging.WARNING, logger="runwidgets")
    logging.getLogger("runwidgets").addHandler(caplog.handler)
    try:
        for i in range(1, 6):
            run.log("x", float(i))
            FLUSHER._flush_one(run)
        said = [r.getMessage() for r in caplog.records if run.id in r.getMessage()]
        assert len(said) == 1 and "full" in said[0] and "Traceback" not in said[0]
        store._w.execute("PRAGMA max_page_count=1073741823")
        FLUSHER._flush_one(run)
        said = [r.getMessage() for r in caplog.records if run.id in r.getMessage()]
        assert len(said) == 2 and "nothing was lost" in said[1]
    finally:
        logging.getLogger("runwidgets").removeHandler(caplog.handler)
    run.complete()
    m = run.get_metrics()
    assert m["x"] == [float(i) for i in range(6)] and len(m["big"]) == 200_000


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MiB tmpfs: a disk that really fills (root is needed to mount it)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if p.returncode != 0:
        msg = f"cannot mount a small tmpfs here ({p.stderr.strip()}): the full-disk case is covered by max_page_count"
        if CI and os.geteuid() == 0:
            pytest.fail(msg)
        pytest.skip(msg)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_really_full_disk(small_disk):
    ws = Workspace(small_disk / "ws")
    run = Experiment(ws, "full").start_logging()
    run.log("x", 1.0)
    run.flush()
    filler = small_disk / "filler"
    with pytest.raises(OSError):
        with open(filler, "wb") as f:
            while True:
                f.write(b"\0" * 65536)
    with pytest.raises(StoreFull, match="is full"):
        run.upload_file("outputs/model.bin", io.BytesIO(b"m" * 1_000_000))
    assert "outputs/model.bin" not in run.get_file_names()  # no partial file listed
    for i in range(20_000):
        run.log("y", float(i))
    with pytest.raises(StoreFull):
        run.flush()
    filler.unlink()  # room again: the buffered points are written
    run.complete()
    assert len(run.get_metrics()["y"]) == 20_000


# -- read-only --------------------------------------------------------------------------------------


@pytest.fixture
def read_only_workspace(tmp_path):
    """A workspace seen through a read-only view: a read-only bind mount as root (who ignores file
    modes), else folders and files without write permission."""
    ws = Workspace(tmp_path / "ws")
    run = Experiment(ws, "shared").start_logging(display_name="year of runs")
    run.log("loss", 0.5)
    run.complete()
    if os.geteuid() != 0:
        for p in [ws.path, *ws.path.rglob("*")]:
            os.chmod(p, 0o555 if p.is_dir() else 0o444)
        yield ws.path, run
        for p in [ws.path, *ws.path.rglob("*")]:
            os.chmod(p, 0o755 if p.is_dir() else 0o644)
        return
    view = tmp_path / "ro"
    view.mkdir()
    for cmd in (["mount", "--bind", str(ws.path), str(view)], ["mount", "-o", "remount,ro,bind", str(view)]):
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            subprocess.run(["umount", str(view)], check=False)
            if CI:
                pytest.fail(f"cannot make a read-only bind mount as root: {p.stderr}")
            pytest.skip(f"cannot make a read-only bind mount here: {p.stderr}")
    try:
        yield view, run
    finally:
        subprocess.run(["umount", "-l", str(view)], check=False)


def test_a_read_only_workspace_is_readable_and_refuses_writes(read_only_workspace):
    path, run = read_only_workspace
    code = (
        "from runwidgets import Workspace, Experiment\n"
        f"ws = Workspace({str(path)!r})\n"
        f"print(ws.store.read_only, ws.store.get_run({run.id!r}).name, ws.store.read_series({run.id!r})[0].values[0])\n"
        "try:\n    Experiment(ws, 'x').start_logging()\nexcept Exception as e:\n    print(type(e).__name__, e)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines[0] == "True year of runs 0.5"
    assert lines[1].startswith("ReadOnlyWorkspace") and "read-only" in lines[1] and "runwidgets.db" in lines[1]
    shown = cli("-w", str(path), "show", run.id)
    assert shown.returncode == 0, shown.stderr
    assert "year of runs" in shown.stdout and "Completed" in shown.stdout and "loss" in shown.stdout
    listed = cli("-w", str(path), "ls")
    assert listed.returncode == 0 and run.id in listed.stdout


# -- damaged databases ----------------------------------------------------------------------------


def _garbage(db: Path) -> None:
    db.write_bytes(os.urandom(8192))


def _truncated(db: Path) -> None:
    db.write_bytes(db.read_bytes()[:100])


def _pages_overwritten(db: Path) -> None:
    data = bytearray(db.read_bytes())
    data[4096:] = os.urandom(len(data) - 4096)
    db.write_bytes(bytes(data))


def _a_folder(db: Path) -> None:
    db.unlink()
    db.mkdir()


def _foreign(db: Path) -> None:
    db.unlink()
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE invoices(id INTEGER)")
    con.commit()
    con.close()


def _newer(db: Path) -> None:
    con = sqlite3.connect(db)
    con.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    con.commit()
    con.close()


def _version_garbage(db: Path) -> None:
    con = sqlite3.connect(db)
    con.execute("UPDATE meta SET value='banana' WHERE key='schema_version'")
    con.commit()
    con.close()


def _emptied(db: Path) -> None:
    db.write_bytes(b"")


DAMAGE = {
    "garbage": (_garbage, DamagedWorkspace),
    "truncated": (_truncated, DamagedWorkspace),
    "pages overwritten": (_pages_overwritten, DamagedWorkspace),
    "a folder": (_a_folder, DamagedWorkspace),
    "another program's database": (_foreign, SchemaError),
    "newer schema": (_newer, SchemaError),
    "unreadable schema version": (_version_garbage, DamagedWorkspace),
    "emptied while runs exist": (_emptied, DamagedWorkspace),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_database_is_one_line_naming_the_file(tmp_path, damage):
    hurt, error = DAMAGE[damage]
    ws = Workspace(tmp_path / "ws")
    run = Experiment(ws, "e").start_logging()
    for i in range(3000):
        run.log("x", float(i))
        run.log_row("t", a=i, b=f"row {i}")
    run.upload_file("outputs/a.txt", io.BytesIO(b"a"))
    run.complete()
    ws.store.close()
    workspace._stores.clear()  # this process opens the damaged file afresh, as a new one would
    db = ws.path / "runwidgets.db"
    for side in ("-wal", "-shm"):
        Path(f"{db}{side}").unlink(missing_ok=True)
    hurt(db)
    with pytest.raises(error) as err:
        s = SqliteStore(ws.path)
        s.find_runs()  # a damaged page may show only on reading
        s.read_series(run.id)
    assert isinstance(err.value, WorkspaceError)
    assert str(db) in str(err.value)
    p = cli("-w", str(ws.path), "ls")
    assert p.returncode == 2, p.stdout
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert str(db) in p.stderr
    # the dashboard says the same, as a line on its page rather than Voila's generic error
    shown = dashboard_page(ws.path)
    assert str(db) in shown and "runwidgets:" in shown


def test_an_empty_database_without_runs_is_a_new_workspace(tmp_path):
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "runwidgets.db").write_bytes(b"")
    ws = Workspace(tmp_path / "ws")
    assert ws.store.list_experiments() == []


def dashboard_page(path: Path) -> str:
    """What the served notebook displays for a workspace (main() run in-process, display captured)."""
    from IPython import display as ipd

    from runwidgets.dashboard import app

    shown = []
    old_env, old_display = os.environ.get("RUNWIDGETS_WORKSPACE"), ipd.display
    os.environ["RUNWIDGETS_WORKSPACE"] = str(path)
    ipd.display = lambda obj: shown.append(obj)
    try:
        app.main()
    finally:
        ipd.display = old_display
        if old_env is None:
            os.environ.pop("RUNWIDGETS_WORKSPACE", None)
        else:
            os.environ["RUNWIDGETS_WORKSPACE"] = old_env
    return " ".join(getattr(o, "data", "") or "" for o in shown)
