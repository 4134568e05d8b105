"""The embedded store: one SQLite file in WAL mode plus a folder of run files.

Layout of a workspace folder::

    runwidgets.db          experiments, runs, tags, properties, series, chunks, events
    runs/<run_id>/...      the run's files: uploads, images/, azureml-logs/, outputs/

Incremental reads rest on two append-only tables with rowid watermarks:
``chunks`` (metric points, one row per flushed batch of a series) and
``events`` (one row per change to a run: status, tags, properties, a new child). SQLite serialises writers, so rows
become visible in rowid order and a watermark never skips a late commit.
"""

from __future__ import annotations

import errno
import json
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from . import codec
from . import sqlite_search as search
from .base import (
    LIVE,
    SCALAR,
    Cursor,
    Delta,
    PointBatch,
    RunRecord,
    SeriesChunk,
    SeriesKey,
    heartbeat_timeout,
    run_type,
)
from .details import Details
from .errors import DamagedWorkspace, ReadOnlyWorkspace, RunNotFound, SchemaError, StoreFull, WorkspaceError
from .files import RunFiles, check_run_id
from .logs import LOG_FIRST_READ_BYTES, read_new_log_text  # noqa: F401 - re-exported for tests
from .query import HYPERPARAMETERS, RunColumns, RunPage, RunQuery, is_param_property

SCHEMA_VERSION = 2
DB_NAME = "runwidgets.db"
BUSY_TIMEOUT_MS = 60_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS experiments(
    id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS runs(
    id INTEGER PRIMARY KEY, run_id TEXT UNIQUE NOT NULL,
    experiment INTEGER NOT NULL REFERENCES experiments(id),
    parent INTEGER REFERENCES runs(id), name TEXT NOT NULL, kind TEXT NOT NULL,
    status TEXT NOT NULL, created REAL NOT NULL, started REAL, ended REAL,
    heartbeat REAL, error TEXT, details TEXT NOT NULL DEFAULT '{}');
CREATE INDEX IF NOT EXISTS runs_parent ON runs(parent);
CREATE INDEX IF NOT EXISTS runs_experiment ON runs(experiment);
CREATE TABLE IF NOT EXISTS tags(
    run INTEGER NOT NULL, key TEXT NOT NULL, value TEXT, PRIMARY KEY(run, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS properties(
    run INTEGER NOT NULL, key TEXT NOT NULL, value TEXT, PRIMARY KEY(run, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS series(
    id INTEGER PRIMARY KEY, run INTEGER NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL,
    col TEXT NOT NULL DEFAULT '', vtype TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '', UNIQUE(run, name, col));
-- One row per flushed batch of one series, packed by codec.py.
CREATE TABLE IF NOT EXISTS chunks(
    id INTEGER PRIMARY KEY, series INTEGER NOT NULL, n INTEGER NOT NULL, vtype TEXT NOT NULL,
    vals BLOB NOT NULL, steps BLOB, walls BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS chunks_series ON chunks(series);
CREATE TABLE IF NOT EXISTS events(id INTEGER PRIMARY KEY, run INTEGER NOT NULL);
-- The last value of each numeric scalar metric of a run (NULL for NaN), kept as points are written, so
-- that a runs table sorts and filters 10,000 runs by a metric in SQL without decoding a chunk.
CREATE TABLE IF NOT EXISTS latest(
    run INTEGER NOT NULL, name TEXT NOT NULL, value REAL, PRIMARY KEY(run, name)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS latest_name ON latest(name, value);
"""


def _add_latest(w: sqlite3.Connection) -> None:
    """Version 1 -> 2: the latest-values table, filled from each scalar series' last chunk."""
    w.execute(
        "CREATE TABLE latest(run INTEGER NOT NULL, name TEXT NOT NULL, value REAL, PRIMARY KEY(run, name)) WITHOUT ROWID"
    )
    w.execute("CREATE INDEX latest_name ON latest(name, value)")
    rows = w.execute(
        "SELECT s.run, s.name, c.vtype, c.vals FROM series s"
        " JOIN chunks c ON c.id = (SELECT max(id) FROM chunks WHERE series = s.id) WHERE s.kind = 'scalar'"
    ).fetchall()
    lasts = [(run, name, codec.decode_values(vtype, vals)) for run, name, vtype, vals in rows]
    w.executemany(
        "INSERT OR REPLACE INTO latest VALUES(?,?,?)",
        [(run, name, last_number(v)) for run, name, v in lasts if not is_text(v)],
    )


# from-version -> SQL (or a function of the write connection) bringing the file to from-version + 1.
# Applied in order inside one transaction when an older file is opened.
MIGRATIONS: dict[int, str | Callable[[sqlite3.Connection], None]] = {1: _add_latest}


def is_text(values: Any) -> bool:
    """A metric whose last value is text: no number to sort or filter by (it has no latest row)."""
    return len(values) > 0 and isinstance(values[-1], str)


def last_number(values: Any) -> float | None:
    """The value a table sorts a metric by: the last point, when it is a number (NaN: none)."""
    if values is None or len(values) == 0:
        return None
    v = values[-1]
    if isinstance(v, (bool, np.bool_)):
        return float(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        f = float(v)
        return None if math.isnan(f) else f
    return None


__all__ = ["SqliteStore", "SchemaError", "RunNotFound"]


class SqliteStore:
    """A run store in ``<root>/runwidgets.db`` with run files under ``<root>/runs``.

    A folder the process cannot write is opened read-only: every read works,
    and every write raises :class:`ReadOnlyWorkspace`. ``create=False`` refuses
    to make a new database (read-only commands never create a workspace).
    """

    def __init__(self, root: str | os.PathLike, create: bool = True) -> None:
        self.root = Path(root).resolve()
        self.db_path = self.root / DB_NAME
        self.files = RunFiles(self.root)
        self._pid = -1
        self._create = create
        self.read_only = False
        self._open()

    # -- connections -------------------------------------------------------
    def _connect(self, mode: str = "") -> sqlite3.Connection:
        target, uri = (self.db_path, False) if not mode else (f"file:{quote(str(self.db_path))}?{mode}", True)
        con = sqlite3.connect(
            target, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000, uri=uri
        )
        con.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        search.register(con)
        con.execute("PRAGMA synchronous=NORMAL")
        return con

    def _open(self) -> None:
        # Connections are not shared across fork(); a child process reopens.
        self._pid = os.getpid()
        self._wlock = threading.RLock()
        self._rlock = threading.RLock()
        self._run_ids: dict[str, int] = {}
        self._series: dict[tuple[int, str, str], int] = {}  # writer: (run, name, col) -> series id
        self._series_meta: dict[int, tuple[SeriesKey, str]] = {}  # reader: id -> key, description
        self._series_seen = 0
        self._check_file()
        try:
            self._open_connections()
        except sqlite3.Error as e:
            raise self._translate(e) from None

    def _check_file(self) -> None:
        """Refuse what would hide lost data: a folder or an empty file where the database should be."""
        db = self.db_path
        if db.is_dir():
            raise DamagedWorkspace(f"{db} is a folder, not a runwidgets database: move it away to use this workspace")
        if not db.exists():
            if not self._create:
                raise WorkspaceError(f"{self.root} holds no runwidgets workspace (no {DB_NAME})")
            return
        wal = Path(f"{db}-wal")
        if db.stat().st_size == 0 and not (wal.exists() and wal.stat().st_size) and self.files.has_runs():
            raise DamagedWorkspace(
                f"{db} is empty (0 bytes) but the workspace holds run files: the database was truncated."
                f" Restore it from a backup, or move it away to start a new database beside those files"
            )

    def _open_connections(self) -> None:
        self._w: sqlite3.Connection | None = None
        if self.db_path.is_file() and not (os.access(self.db_path, os.W_OK) and os.access(self.root, os.W_OK)):
            self._open_read_only()  # a read-only mount or folder: SQLite would open it read-only anyway
            return
        try:
            if not self.root.is_dir():
                self.root.mkdir(parents=True, exist_ok=True)
            w = self._connect()
            mode = w.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        except (sqlite3.OperationalError, OSError) as e:
            if not self.db_path.is_file():  # nothing to read: the folder cannot take a new database
                raise ReadOnlyWorkspace(f"cannot create a workspace in {self.root}: {e}") from None
            if not _is_read_only(e):
                raise
            self._open_read_only()
            return
        if mode.lower() != "wal":
            raise SchemaError(f"{self.db_path}: could not switch SQLite to WAL mode (got {mode!r})")
        self._w = w
        self._init_schema()
        self._r = self._connect()

    def _open_read_only(self) -> None:
        """Readers of a folder we cannot write: ``mode=ro``, or ``immutable`` when WAL files cannot be made."""
        self.read_only = True
        last: sqlite3.Error | None = None
        for mode in ("mode=ro", "mode=ro&immutable=1"):
            try:
                con = self._connect(mode)
                con.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlite3.OperationalError as e:
                last = e
                continue
            self._r = con
            self._check_schema(con)
            return
        assert last is not None
        raise self._translate(last) from None

    def _check_fork(self) -> None:
        if os.getpid() != self._pid:
            self._open()

    def _check_schema(self, con: sqlite3.Connection) -> int | None:
        """The file's schema version (None for a new, empty file); refuses a newer or a foreign file."""
        have = con.execute("SELECT name FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
        if not have:
            if con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
                raise SchemaError(
                    f"{self.db_path} is an SQLite file but not a runwidgets workspace: point runwidgets at another folder"
                )
            return None
        row = con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        try:
            version = int(row[0]) if row else None
        except (TypeError, ValueError):
            version = -1
        if version is None or version < 0:
            raise DamagedWorkspace(f"{self.db_path} has no readable schema version: restore it from a backup")
        if version > SCHEMA_VERSION:
            raise SchemaError(
                f"{self.db_path} has schema version {version}, newer than this runwidgets "
                f"understands ({SCHEMA_VERSION}): upgrade runwidgets to read it (pip install -U runwidgets)"
            )
        if version < SCHEMA_VERSION and self.read_only:
            raise ReadOnlyWorkspace(
                f"{self.db_path} was written by an older runwidgets; open it once with write access to upgrade it"
            )
        return version

    def _init_schema(self) -> None:
        with self._wlock:
            w = self._w
            assert w is not None
            w.execute("BEGIN IMMEDIATE")
            try:
                version = self._check_schema(w)
                if version is None:
                    for stmt in _SCHEMA.split(";"):
                        if stmt.strip():
                            w.execute(stmt)
                    w.execute("INSERT OR REPLACE INTO meta VALUES('schema_version', ?)", (str(SCHEMA_VERSION),))
                elif version < SCHEMA_VERSION:
                    for v in range(version, SCHEMA_VERSION):
                        step = MIGRATIONS[v]
                        if callable(step):
                            step(w)
                            continue
                        for stmt in step.split(";"):
                            if stmt.strip():
                                w.execute(stmt)
                    w.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))
                w.execute("COMMIT")
            except BaseException:
                _rollback(w)
                raise

    def schema_version(self) -> int:
        with self._rlock:
            return int(self._r.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0])

    def _translate(self, e: BaseException) -> BaseException:
        """sqlite3's error as the one a person can act on (the same error when there is none better)."""
        msg = str(e)
        if isinstance(e, sqlite3.InterfaceError):  # a value sqlite3 cannot bind: the caller's, not the disk's
            return ValueError(f"the store cannot encode a value: {msg}")
        if isinstance(e, sqlite3.DatabaseError) and "full" in msg and "disk" in msg:
            return StoreFull(
                f"the disk holding {self.root} is full: free some space. Nothing already stored is lost;"
                " points logged since the last write stay buffered and are written when there is room"
            )
        if _is_read_only(e):
            return self._read_only_error()
        if type(e) is sqlite3.DatabaseError or any(w in msg for w in ("malformed", "not a database", "corrupt")):
            return DamagedWorkspace(
                f"{self.db_path} is damaged ({msg}): restore it from a backup;"
                f" `sqlite3 {self.db_path} .recover` may save what is left"
            )
        if isinstance(e, sqlite3.OperationalError) and "unable to open" in msg:
            return DamagedWorkspace(f"{self.db_path} cannot be opened ({msg}): check that it exists and is readable")
        return e

    def _read_only_error(self) -> ReadOnlyWorkspace:
        return ReadOnlyWorkspace(
            f"{self.db_path} is read-only: its runs can be read but nothing can be logged there."
            " Log to a workspace in a folder you can write"
        )

    def _write(self, fn, *args):
        """Run ``fn(connection, *args)`` in one IMMEDIATE transaction."""
        self._check_fork()
        if self._w is None:
            raise self._read_only_error()
        with self._wlock:
            w = self._w
            try:
                w.execute("BEGIN IMMEDIATE")
                out = fn(w, *args)
                w.execute("COMMIT")
                return out
            except sqlite3.Error as e:
                _rollback(w)
                raise self._translate(e) from None
            except BaseException:
                _rollback(w)
                raise

    def _read(self, sql: str, args: tuple = ()) -> list[tuple]:
        self._check_fork()
        with self._rlock:
            try:
                return self._r.execute(sql, args).fetchall()
            except sqlite3.Error as e:
                raise self._translate(e) from None

    def close(self) -> None:
        for con in (getattr(self, "_w", None), getattr(self, "_r", None)):
            if con is not None:
                con.close()

    # -- experiments -------------------------------------------------------
    def create_experiment(self, name: str) -> None:
        import time

        self._write(
            lambda w: w.execute("INSERT OR IGNORE INTO experiments(name, created) VALUES(?, ?)", (name, time.time()))
        )

    def list_experiments(self) -> list[str]:
        return [r[0] for r in self._read("SELECT name FROM experiments ORDER BY created")]

    def experiment_rows(self) -> list[tuple[int, str, float]]:
        """(id, name, created) of every experiment: the ids MLflow's API names experiments by."""
        return [tuple(r) for r in self._read("SELECT id, name, created FROM experiments ORDER BY id")]

    # -- runs --------------------------------------------------------------
    def _rowid(self, run_id: str, con: sqlite3.Connection | None = None) -> int:
        rid = self._run_ids.get(run_id)
        if rid is None:
            if con is None:
                rows = self._read("SELECT id FROM runs WHERE run_id=?", (run_id,))
            else:
                rows = con.execute("SELECT id FROM runs WHERE run_id=?", (run_id,)).fetchall()
            if not rows:
                raise RunNotFound(run_id)
            rid = self._run_ids[run_id] = rows[0][0]
        return rid

    def create_run(self, record: RunRecord) -> RunRecord:
        check_run_id(record.run_id)

        def tx(w: sqlite3.Connection) -> None:
            w.execute(
                "INSERT OR IGNORE INTO experiments(name, created) VALUES(?, ?)",
                (record.experiment, record.created),
            )
            exp = w.execute("SELECT id FROM experiments WHERE name=?", (record.experiment,)).fetchone()[0]
            parent = self._rowid(record.parent_id, w) if record.parent_id else None
            cur = w.execute(
                "INSERT INTO runs(run_id, experiment, parent, name, kind, status, created, started,"
                " ended, heartbeat, error, details) VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    record.run_id,
                    exp,
                    parent,
                    record.name,
                    record.kind,
                    record.status,
                    record.created,
                    record.started,
                    record.ended,
                    record.heartbeat,
                    json.dumps(record.error) if record.error else None,
                    json.dumps(record.details.to_json()),
                ),
            )
            rid = cur.lastrowid
            w.executemany("INSERT INTO tags VALUES(?,?,?)", [(rid, k, v) for k, v in record.tags.items()])
            w.executemany("INSERT INTO properties VALUES(?,?,?)", [(rid, k, v) for k, v in record.properties.items()])
            w.execute("INSERT INTO events(run) VALUES(?)", (rid,))

        try:
            self._write(tx)
        except sqlite3.IntegrityError:
            raise ValueError(f"a run with id {record.run_id!r} already exists in {self.root}") from None
        return record

    _RUN_COLS = (
        "r.id, r.run_id, e.name, p.run_id, r.name, r.kind, r.status, r.created, r.started, r.ended,"
        " r.heartbeat, r.error, r.details"
    )
    _RUN_FROM = " FROM runs r JOIN experiments e ON e.id = r.experiment LEFT JOIN runs p ON p.id = r.parent"

    def _records(self, where: str, args: tuple = (), tail: str = "ORDER BY r.id") -> list[RunRecord]:
        rows = self._read(f"SELECT {self._RUN_COLS}{self._RUN_FROM} WHERE {where} {tail}", args)
        if not rows:
            return []
        ids = [r[0] for r in rows]
        tags: dict[int, dict] = {i: {} for i in ids}
        props: dict[int, dict] = {i: {} for i in ids}
        marks = ",".join("?" * len(ids)) if len(ids) <= 500 else None
        if marks:
            tag_rows = self._read(f"SELECT run, key, value FROM tags WHERE run IN ({marks})", tuple(ids))
            prop_rows = self._read(f"SELECT run, key, value FROM properties WHERE run IN ({marks})", tuple(ids))
        else:  # many runs: one scan is cheaper than a huge IN list
            tag_rows = self._read("SELECT run, key, value FROM tags")
            prop_rows = self._read("SELECT run, key, value FROM properties")
        for run, k, v in tag_rows:
            if run in tags:
                tags[run][k] = v
        for run, k, v in prop_rows:
            if run in props:
                props[run][k] = v
        out = []
        for rid, run_id, exp, parent, name, kind, status, created, started, ended, hb, err, det in rows:
            self._run_ids[run_id] = rid
            out.append(
                RunRecord(
                    run_id=run_id,
                    experiment=exp,
                    parent_id=parent,
                    name=name,
                    status=status,
                    created=created,
                    started=started,
                    ended=ended,
                    heartbeat=hb,
                    kind=run_type(kind),
                    tags=tags[rid],
                    properties=props[rid],
                    error=json.loads(err) if err else None,
                    details=Details.from_json(json.loads(det) if det else None),
                )
            )
        return out

    def get_run(self, run_id: str) -> RunRecord:
        recs = self._records("r.run_id=?", (run_id,))
        if not recs:
            raise RunNotFound(run_id)
        return recs[0]

    def find_runs(
        self,
        experiment: str | None = None,
        parent_id: Any = ...,
        tags: dict[str, str | None] | None = None,
        properties: dict[str, str] | None = None,
        status: str | None = None,
    ) -> list[RunRecord]:
        """Runs matching every given filter. ``parent_id=None`` means top-level runs only;
        a tag value of None matches any value of that tag."""
        where, args = ["1"], []
        if experiment is not None:
            where.append("e.name=?")
            args.append(experiment)
        if parent_id is None:
            where.append("r.parent IS NULL")
        elif parent_id is not ...:
            where.append("p.run_id=?")
            args.append(parent_id)
        if status is not None:
            where.append("r.status=?")
            args.append(status)
        for table, filt in (("tags", tags), ("properties", properties)):
            for k, v in (filt or {}).items():
                if v is None:
                    where.append(f"EXISTS(SELECT 1 FROM {table} t WHERE t.run=r.id AND t.key=?)")
                    args.append(k)
                else:
                    where.append(f"EXISTS(SELECT 1 FROM {table} t WHERE t.run=r.id AND t.key=? AND t.value=?)")
                    args += [k, v]
        return self._records(" AND ".join(where), tuple(args))

    def search_runs(self, query: RunQuery) -> RunPage:
        """One page of runs, filtered and sorted in SQL: only the page's rows are read."""
        now, timeout = time.time(), heartbeat_timeout()
        where, args = search.where_sql(query, now, timeout)
        order, order_args = search.order_sql(query, now, timeout)
        recs = self._records(where, (*args, *order_args, query.limit + 1, query.offset), f"{order} LIMIT ? OFFSET ?")
        has_more = len(recs) > query.limit
        recs = recs[: query.limit]
        (total,) = self._read(f"SELECT count(*){self._RUN_FROM} WHERE {where}", tuple(args))[0]
        ids = [self._run_ids[r.run_id] for r in recs]
        children: dict[str, int] = {}
        metrics: dict[str, dict[str, float | None]] = {r.run_id: {} for r in recs}
        if ids:
            marks = ",".join("?" * len(ids))
            for parent, n in self._read(
                f"SELECT p.run_id, count(*) FROM runs c JOIN runs p ON p.id = c.parent"
                f" WHERE c.parent IN ({marks}) GROUP BY p.run_id",
                tuple(ids),
            ):
                children[parent] = n
            for run_id, name, value in self._read(
                f"SELECT r.run_id, l.name, l.value FROM latest l JOIN runs r ON r.id = l.run WHERE l.run IN ({marks})",
                tuple(ids),
            ):
                metrics[run_id][name] = value
        return RunPage(recs, total, has_more, children, metrics, rows_read=len(recs))

    def run_columns(self, experiments: Iterable[str] = ()) -> RunColumns:
        """The metric and param names of the runs of these experiments (all: none given), in SQL."""
        names = tuple(experiments)
        runs = "SELECT r.id FROM runs r JOIN experiments e ON e.id = r.experiment"
        if names:
            runs += f" WHERE e.name IN ({','.join('?' * len(names))})"
        metrics = [
            n for (n,) in self._read(f"SELECT DISTINCT name FROM latest WHERE run IN ({runs}) ORDER BY name", names)
        ]
        hp = self._read(
            f"SELECT DISTINCT j.key FROM properties p, json_each(p.value) j WHERE p.key = ? AND json_valid(p.value)"
            f" AND json_type(p.value) = 'object' AND p.run IN ({runs})",
            (HYPERPARAMETERS, *names),
        )
        plain = self._read(f"SELECT DISTINCT key FROM properties WHERE run IN ({runs})", names)
        params = sorted({k for (k,) in hp} | {k for (k,) in plain if is_param_property(k)})
        return RunColumns(metrics, params)

    _UPDATABLE = frozenset({"status", "started", "ended", "heartbeat", "error", "details", "name"})

    def update_run(self, run_id: str, **fields: Any) -> None:
        self._update(run_id, None, fields)

    def set_status_if(self, run_id: str, allowed_from: Iterable[str], **fields: Any) -> bool:
        """Update only while the recorded status is one of ``allowed_from``; True if it was."""
        return self._update(run_id, tuple(allowed_from), fields)

    def _update(self, run_id: str, allowed: tuple[str, ...] | None, fields: dict[str, Any]) -> bool:
        """One UPDATE (and one event row) in a transaction; with ``allowed``, only from those statuses."""
        bad = set(fields) - self._UPDATABLE
        if bad:
            raise ValueError(f"cannot update run fields {sorted(bad)}")
        values = [
            json.dumps(v.to_json() if k == "details" else v) if k in ("error", "details") and v is not None else v
            for k, v in fields.items()
        ]
        sets = ", ".join(f"{k}=?" for k in fields)
        where = "id=?"
        args: tuple[str, ...] = ()
        if allowed is not None:
            where += f" AND status IN ({','.join('?' * len(allowed))})"
            args = allowed

        def tx(w):
            rid = self._rowid(run_id, w)
            changed = w.execute(f"UPDATE runs SET {sets} WHERE {where}", (*values, rid, *args)).rowcount > 0
            if changed:
                w.execute("INSERT INTO events(run) VALUES(?)", (rid,))
            return changed

        return self._write(tx)

    def set_tags(self, run_id: str, tags: dict[str, str | None]) -> None:
        def tx(w):
            rid = self._rowid(run_id, w)
            w.executemany("INSERT OR REPLACE INTO tags VALUES(?,?,?)", [(rid, k, v) for k, v in tags.items()])
            w.execute("INSERT INTO events(run) VALUES(?)", (rid,))

        self._write(tx)

    def remove_tags(self, run_id: str, keys: Iterable[str]) -> None:
        keys = list(keys)

        def tx(w):
            rid = self._rowid(run_id, w)
            w.executemany("DELETE FROM tags WHERE run=? AND key=?", [(rid, k) for k in keys])
            w.execute("INSERT INTO events(run) VALUES(?)", (rid,))

        self._write(tx)

    def add_properties(self, run_id: str, properties: dict[str, str]) -> None:
        """Append-only: adding a key again with another value raises ValueError."""

        def tx(w):
            rid = self._rowid(run_id, w)
            for k, v in properties.items():
                row = w.execute("SELECT value FROM properties WHERE run=? AND key=?", (rid, k)).fetchone()
                if row is not None and row[0] != v:
                    raise ValueError(
                        f"property {k!r} is already {row[0]!r}; properties cannot change once set "
                        "(use tags for values that change)"
                    )
            w.executemany(
                "INSERT OR IGNORE INTO properties VALUES(?,?,?)", [(rid, k, v) for k, v in properties.items()]
            )
            w.execute("INSERT INTO events(run) VALUES(?)", (rid,))

        self._write(tx)

    def heartbeat(self, run_ids: Iterable[str], when: float) -> None:
        # No event row: a heartbeat alone must not make an idle poll do work.
        def tx(w):
            w.executemany("UPDATE runs SET heartbeat=? WHERE id=?", [(when, self._rowid(r, w)) for r in run_ids])

        self._write(tx)

    # -- metric points -----------------------------------------------------
    def write_points(self, run_id: str, batches: list[PointBatch], descriptions: dict | None = None) -> None:
        """Append batches of points in one transaction.

        ``descriptions`` maps a metric name to its description (kept from the
        first batch of a series).
        """
        if batches:
            rows = [(b.key, *codec.encode(b.values, b.steps, b.walls), len(b.values)) for b in batches]
            lasts = {b.key.name: b.values for b in batches if b.key.kind == SCALAR}
            made: dict[tuple[int, str, str], int] = {}
            self._write(self._insert_chunks, run_id, rows, descriptions or {}, made, lasts)
            self._series.update(made)  # only once committed: a rolled-back series row is not there

    def _insert_chunks(self, w, run_id, rows, descriptions, made, lasts) -> None:
        rid = self._rowid(run_id, w)
        out = []
        for key, vtype, vals, steps, walls, n in rows:
            kind, name, col = key.kind, key.name, key.column or ""
            skey = (rid, name, col)
            sid = self._series.get(skey) or made.get(skey)
            if sid is None:
                w.execute(
                    "INSERT OR IGNORE INTO series(run, name, kind, col, description) VALUES(?,?,?,?,?)",
                    (rid, name, kind, col, descriptions.get(name, "")),
                )
                (sid,) = w.execute("SELECT id FROM series WHERE run=? AND name=? AND col=?", skey).fetchone()
                made[skey] = sid
            out.append((sid, n, vtype, vals, steps, walls))
        w.executemany("INSERT INTO chunks(series, n, vtype, vals, steps, walls) VALUES(?,?,?,?,?,?)", out)
        w.executemany(
            "INSERT OR REPLACE INTO latest VALUES(?,?,?)",
            [(rid, n, last_number(v)) for n, v in lasts.items() if not is_text(v)],
        )
        w.executemany("DELETE FROM latest WHERE run=? AND name=?", [(rid, n) for n, v in lasts.items() if is_text(v)])

    def _load_series_meta(self) -> None:
        rows = self._read(
            "SELECT s.id, r.run_id, s.name, s.kind, s.col, s.description FROM series s"
            " JOIN runs r ON r.id = s.run WHERE s.id > ? ORDER BY s.id",
            (self._series_seen,),
        )
        for sid, run_id, name, kind, col, desc in rows:
            self._series_meta[sid] = (SeriesKey(run_id, name, kind, col or None), desc)
            self._series_seen = sid

    def _chunks(self, rows, first_index: Mapping[SeriesKey, int] | None = None) -> list[SeriesChunk]:
        """Decode (series, n, vtype, vals, steps, walls) rows into one SeriesChunk per series."""
        parts: dict[int, list] = {}
        for row in rows:
            parts.setdefault(row[0], []).append(row)
        out = []
        for sid, rs in parts.items():
            if sid not in self._series_meta:
                self._load_series_meta()
            key, desc = self._series_meta[sid]
            lengths = [r[1] for r in rs]
            out.append(
                SeriesChunk(
                    key,
                    codec.concat([codec.decode_values(r[2], r[3]) for r in rs]),
                    codec.concat_steps([codec.decode_floats(r[4], r[1]) for r in rs], lengths),
                    np.concatenate([codec.decode_floats(r[5], r[1]) for r in rs]),
                    desc,
                    (first_index or {}).get(key, 0),
                )
            )
        return out

    def read_series(self, run_id: str, name: str | None = None) -> list[SeriesChunk]:
        """Every point of a run's series (or of one metric), oldest first."""
        rid = self._rowid(run_id)
        where, args = "s.run=?", (rid,)
        if name is not None:
            where, args = "s.run=? AND s.name=?", (rid, name)  # type: ignore[assignment]
        self._load_series_meta()
        rows = self._read(
            "SELECT c.series, c.n, c.vtype, c.vals, c.steps, c.walls FROM series s"
            f" JOIN chunks c ON c.series = s.id WHERE {where} ORDER BY s.id, c.id",
            args,
        )
        return self._chunks(rows)

    def latest_values(self, run_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The last value of every scalar metric of each run, reading only each series' last chunk."""
        out: dict[str, dict[str, Any]] = {r: {} for r in run_ids}
        for i in range(0, len(run_ids), 500):
            part = run_ids[i : i + 500]
            rows = self._read(
                "SELECT r.run_id, s.name, c.vtype, c.vals FROM runs r JOIN series s ON s.run = r.id"
                " JOIN chunks c ON c.id = (SELECT max(id) FROM chunks WHERE series = s.id)"
                f" WHERE s.kind = 'scalar' AND r.run_id IN ({','.join('?' * len(part))})",
                tuple(part),
            )
            for run_id, name, vtype, vals in rows:
                last = codec.decode_values(vtype, vals)[-1]
                out[run_id][name] = last.item() if hasattr(last, "item") else last
        return out

    def last_points(self, run_id: str) -> dict[str, tuple[Any, float | None, float]]:
        """(value, step, wall) of the last point of every scalar metric of a run, from each series' last chunk."""
        rows = self._read(
            "SELECT s.name, c.vtype, c.vals, c.steps, c.walls FROM runs r JOIN series s ON s.run = r.id"
            " JOIN chunks c ON c.id = (SELECT max(id) FROM chunks WHERE series = s.id)"
            " WHERE s.kind = 'scalar' AND r.run_id = ?",
            (run_id,),
        )
        out = {}
        for name, vtype, vals, steps, walls in rows:
            values = codec.decode_values(vtype, vals)
            n = len(values)
            st, wl = codec.decode_floats(steps, n), codec.decode_floats(walls, n)
            v = values[-1]
            step = None if st is None or np.isnan(st[-1]) else float(st[-1])
            out[name] = (v.item() if hasattr(v, "item") else v, step, float(wl[-1]) if wl is not None else 0.0)
        return out

    # -- incremental reads -------------------------------------------------
    def read_since(
        self, run_ids: Iterable[str], cursor: Cursor | None = None, log_runs: Iterable[str] = ()
    ) -> tuple[Delta, Cursor]:
        """What changed for ``run_ids`` (and their direct children) since ``cursor``.

        The first read (no cursor) returns the runs, their children and every
        point. Later reads cost two index look-ups when nothing changed,
        however long the history. Logs are read for ``log_runs`` only.
        """
        cursor = cursor or Cursor()
        watched = set(run_ids)
        delta = Delta()
        changes: dict[str, Any] = {}
        # Both watermarks from one snapshot: points a writer flushed before changing a run's
        # status are then always under the points watermark.
        top_event, top_point = self._read("SELECT (SELECT max(id) FROM events), (SELECT max(id) FROM chunks)")[0]
        top_event, top_point = top_event or 0, top_point or 0
        children = cursor.children
        beats = cursor.beats

        if top_event > cursor.events:
            if cursor.events == 0:
                recs = [self.get_run(r) for r in watched]
                recs += [c for r in watched for c in self.find_runs(parent_id=r)]
            else:
                ids = [r[0] for r in self._read("SELECT DISTINCT run FROM events WHERE id > ?", (cursor.events,))]
                recs = []
                for i in range(0, len(ids), 500):
                    chunk = ids[i : i + 500]
                    recs += self._records(f"r.id IN ({','.join('?' * len(chunk))})", tuple(chunk))
            new_children = set()
            live = dict(beats)
            for rec in recs:
                if rec.run_id in watched or rec.parent_id in watched or rec.run_id in children:
                    delta.runs[rec.run_id] = rec
                    if rec.parent_id in watched and rec.run_id not in children:
                        new_children.add(rec.run_id)
                    if rec.status in LIVE:
                        live[rec.run_id] = rec.heartbeat
                    else:
                        live.pop(rec.run_id, None)
            if new_children:
                children = changes["children"] = children | new_children
            if live != beats:
                beats = changes["beats"] = live
            changes["events"] = top_event

        if beats:
            # Heartbeats write no event (an idle poll stays two look-ups), so a live run's beat is read here:
            # one indexed row per live run, however long its history.
            ids = list(beats)
            moved = {
                rid: hb
                for rid, hb in self._read(
                    f"SELECT run_id, heartbeat FROM runs WHERE run_id IN ({','.join('?' * len(ids))})", tuple(ids)
                )
                if hb != beats.get(rid)
            }
            if moved:
                delta.beats.update(moved)
                beats = changes["beats"] = {**beats, **moved}

        if top_point > cursor.points:
            self._load_series_meta()
            wanted = watched | children
            meta = self._series_meta
            rows = self._read(
                "SELECT series, n, vtype, vals, steps, walls FROM chunks WHERE id > ? AND id <= ? ORDER BY id",
                (cursor.points, top_point),
            )
            if any(r[0] not in meta for r in rows):
                self._load_series_meta()
            chunks = self._chunks([r for r in rows if meta[r[0]][0].run_id in wanted], cursor.counts)
            if chunks:
                counts = dict(cursor.counts)
                for ch in chunks:
                    counts[ch.key] = ch.first_index + len(ch.values)
                delta.series += chunks
                changes["counts"] = counts
            changes["points"] = top_point

        logs = None
        for run_id in log_runs:
            for name, text, off in self.read_logs(run_id, cursor.logs):
                if logs is None:
                    logs = changes["logs"] = dict(cursor.logs)
                logs[(run_id, name)] = off
                if text:
                    delta.logs[(run_id, name)] = text

        return delta, (replace(cursor, **changes) if changes else cursor)

    def portal_url(self, run_id: str) -> None:
        """No UI of its own: the workspace links to the dashboard."""
        return None

    # -- files -------------------------------------------------------------
    def run_dir(self, run_id: str) -> Path:
        return self.files.run_dir(run_id)

    def put_file(self, run_id: str, name: str, source: Any) -> None:
        if self.read_only:
            raise ReadOnlyWorkspace(f"{self.root} is read-only: files cannot be added to its runs")
        try:
            self.files.put(run_id, name, source)
        except OSError as e:
            if e.errno == errno.ENOSPC:
                raise StoreFull(
                    f"the disk holding {self.root} is full: {name!r} was not saved; free some space"
                ) from None
            raise

    def list_files(self, run_id: str) -> list[str]:
        return self.files.list(run_id)

    def get_file(self, run_id: str, name: str, dest: str) -> str:
        return self.files.get(run_id, name, dest)

    def read_file(self, run_id: str, name: str, limit: int | None = None) -> bytes:
        return self.files.read(run_id, name, limit)

    def file_path(self, run_id: str, name: str) -> Path:
        return self.files.path(run_id, name)

    def read_logs(self, run_id: str, offsets) -> list[tuple[str, str, int]]:
        return read_new_log_text(self.run_dir(run_id), run_id, offsets)

    def ship_logs(self, run_id: str, final: bool = False) -> None:
        """Every reader opens the same folder: nothing to send."""

    def log_path(self, run_id: str, name: str) -> str:
        return self.files.log_path(run_id, name)


def _rollback(con: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open: SQLite ends one itself on some errors (a full disk),
    and an unconditional ROLLBACK would then hide the real error behind "no transaction is active"."""
    if con.in_transaction:
        try:
            con.execute("ROLLBACK")
        except sqlite3.Error:
            pass


def _is_read_only(e: BaseException) -> bool:
    """SQLite's "attempt to write a readonly database", or the OS refusing a write."""
    return isinstance(e, PermissionError) or "readonly" in str(e).lower() or "read-only" in str(e).lower()
