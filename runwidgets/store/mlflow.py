"""An MLflow tracking server (or ``sqlite:///`` URI) as the run store.

How our model maps onto MLflow's:

- experiments and runs are MLflow's; a run's id is MLflow's run id; a child
  run carries ``mlflow.parentRunId``, so the MLflow UI nests it;
- properties are params (MLflow refuses to change a param: so do we);
- numeric points are metrics, written with ``log_batch`` (at most 1,000 a call);
  a ``log_list`` is a metric whose step is the index, a table column is the
  metric ``<table>/<column>``; string values and images keep their latest
  value in a ``runwidgets.text.*`` / ``runwidgets.image.*`` tag (MLflow has
  no string metrics), the image file itself is an artifact;
- our status, kind, details, error and heartbeat live in ``runwidgets.*``
  tags; the MLflow status follows (RUNNING, FINISHED, FAILED, KILLED), and a
  run logged with plain ``mlflow`` is read from its MLflow status;
- files are artifacts; logs are written to a local staging folder (the
  workspace) and uploaded when the run ends.

MLflow has no change feed, so an incremental read asks for each watched run
(its latest metric values and timestamps), fetches history only for metrics
whose latest point moved, and for a long series asks for a sampled history
through the server's bulk-interval endpoint instead of every point.
"""

from __future__ import annotations

import functools
import io
import json
import logging
import math
import os
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from . import mlflow_search
from .base import (
    CANCELED,
    COMPLETED,
    FAILED,
    IMAGE,
    INTERACTIVE,
    LIST,
    QUEUED,
    RUNNING,
    SCALAR,
    TABLE,
    Cursor,
    Delta,
    PointBatch,
    RunRecord,
    SeriesChunk,
    SeriesKey,
    run_type,
)
from .details import Details
from .errors import RunNotFound, StoreUnavailable
from .files import DRIVER_LOG, LOG_DIR, LOG_DIRS, RunFiles, check_name, is_log
from .logs import LOG_FIRST_READ_BYTES, read_new_log_text
from .query import HYPERPARAMETERS, RunColumns, RunPage, RunQuery, params_of
from .uri import public_uri, scrub, secrets_of

TAG = "runwidgets."
VALUELESS = f"{TAG}valueless."  # + a tag's key: "1" when the tag was set without a value
PARENT = "mlflow.parentRunId"
HAS_CHILDREN = f"{TAG}has_children"
COLUMN_SAMPLE = 1000  # runs whose metric and param names make an experiment's column list
COUNT_CHILDREN_TO = 1000  # MLflow cannot count: a sweep's children are counted up to this many
RUN_NAME = "mlflow.runName"
TAG_LIMIT = 8000  # MLflow's longest tag value
BATCH = 1000  # MLflow's most metrics per log_batch
PARTS = ".parts"  # a live log sent from another machine: "<log>.parts/<offset>" artifacts
BATCH_TAGS = 100
SAMPLE_ABOVE = 20_000  # a changed series longer than this is fetched sampled, not whole
SAMPLE_POINTS = 2000
_OUR_STATUS = {"RUNNING": RUNNING, "SCHEDULED": QUEUED, "FINISHED": COMPLETED, "FAILED": FAILED, "KILLED": CANCELED}
_ML_STATUS = {COMPLETED: "FINISHED", FAILED: "FAILED", CANCELED: "KILLED"}
_KEY_OK = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-. /")


def metric_key(name: str, column: str | None = None) -> str:
    """An MLflow-safe metric key: characters MLflow refuses become '_'."""
    key = name if column is None else f"{name}/{column}"
    return "".join(c if c in _KEY_OK else "_" for c in key)[:250]


_DBL_MAX = np.finfo(np.float64).max


def _unclamp(values):
    """MLflow's SQL stores keep +-inf as +-DBL_MAX (SQL has no infinity): read them back as infinities."""
    return np.where(np.abs(values) == _DBL_MAX, np.copysign(np.inf, values), values)


def _ms(t: float | None) -> int | None:
    return None if t is None else int(t * 1000)


class MlflowStore:
    def __init__(self, tracking_uri: str, staging: str | os.PathLike) -> None:
        from mlflow.tracking import MlflowClient

        self.tracking_uri = tracking_uri
        self.client = MlflowClient(tracking_uri=tracking_uri)
        self.root = Path(staging)
        self.files = RunFiles(self.root)  # local staging: logs while a run is live, downloaded copies
        self._shipped: dict[tuple[str, str], int] = {}  # (run, log) -> bytes sent as pieces
        self._secrets = secrets_of(tracking_uri)
        if self._secrets:
            _scrub_logs(tracking_uri)
        self._exp_ids: dict[str, str] = {}
        self._next_index: dict[tuple[str, str], int] = {}
        self._kinds: dict[str, dict] = {}
        self._parents_marked: set[str] = set()

    # -- experiments -----------------------------------------------------------
    def _exp_id(self, name: str) -> str:
        eid = self._exp_ids.get(name)
        if eid is None:
            exp = self.client.get_experiment_by_name(name)
            eid = exp.experiment_id if exp is not None else self.client.create_experiment(name)
            self._exp_ids[name] = eid
        return eid

    def create_experiment(self, name: str) -> None:
        self._exp_id(name)

    def list_experiments(self) -> list[str]:
        exps = self.client.search_experiments()
        return [e.name for e in sorted(exps, key=lambda e: e.creation_time or 0)]

    # -- runs --------------------------------------------------------------------
    def create_run(self, record: RunRecord) -> RunRecord:
        tags = {
            **_write_tags(record.tags),
            f"{TAG}status": record.status,
            f"{TAG}kind": record.kind,
            f"{TAG}heartbeat": repr(record.heartbeat or record.created),
        }
        if record.started:
            tags[f"{TAG}started"] = repr(record.started)
        tags.update(self._details_tags(record.details))
        if record.parent_id:
            tags[PARENT] = record.parent_id
            # MLflow cannot search "runs with children": the parent says so, for the runs table's expander
            if record.parent_id not in self._parents_marked:
                self.client.set_tag(record.parent_id, HAS_CHILDREN, "1")
                self._parents_marked.add(record.parent_id)
        run = self.client.create_run(
            self._exp_id(record.experiment), start_time=_ms(record.created), tags=tags, run_name=record.name
        )
        rid = run.info.run_id
        if record.properties:
            self.add_properties(rid, record.properties)
        name = record.name if record.name != record.run_id else rid
        if name != run.info.run_name:
            self.client.set_tag(rid, RUN_NAME, name)
        return replace(record, run_id=rid, name=name)

    def _details_tags(self, details: Details) -> dict[str, str]:
        text = json.dumps(details.to_json())
        return {f"{TAG}details": text} if len(text) <= TAG_LIMIT else {f"{TAG}details": "{}", f"{TAG}details_big": "1"}

    def _record(self, run) -> RunRecord:
        info, data = run.info, run.data
        t = data.tags
        status = t.get(f"{TAG}status") or _OUR_STATUS.get(info.status, info.status)
        if info.status in ("FINISHED", "FAILED", "KILLED") and status not in (COMPLETED, FAILED, CANCELED):
            status = _OUR_STATUS[info.status]  # ended outside our SDK (mlflow.end_run, a crash handler)
        created = (info.start_time or 0) / 1000
        started = float(t[f"{TAG}started"]) if f"{TAG}started" in t else created
        beat = t.get(f"{TAG}heartbeat")
        details = Details.from_json(json.loads(t.get(f"{TAG}details", "{}")))
        error = json.loads(t[f"{TAG}error"]) if f"{TAG}error" in t else None
        return RunRecord(
            run_id=info.run_id,
            experiment=self._exp_name(info.experiment_id),
            parent_id=t.get(PARENT),
            name=info.run_name or t.get(RUN_NAME) or info.run_id,
            status=status,
            created=created,
            started=started,
            ended=(info.end_time / 1000) if info.end_time else None,
            # a plain-mlflow run has no heartbeat: never call it lost
            heartbeat=float(beat) if beat else (time.time() if status == RUNNING else None),
            kind=run_type(t.get(f"{TAG}kind", INTERACTIVE)),
            tags=_read_tags(t),
            properties=_properties(data.params),
            error=error,
            details=details,
        )

    def _exp_name(self, exp_id: str) -> str:
        for name, eid in self._exp_ids.items():
            if eid == exp_id:
                return name
        name = self.client.get_experiment(exp_id).name
        self._exp_ids[name] = exp_id
        return name

    def _get(self, run_id: str):
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_run(run_id)
        except MlflowException as e:
            if "RESOURCE_DOES_NOT_EXIST" in str(getattr(e, "error_code", "")) or "not found" in str(e).lower():
                raise RunNotFound(run_id, "this tracking server") from None
            raise

    def get_run(self, run_id: str) -> RunRecord:
        return self._record(self._get(run_id))

    def _search(self, exp_ids: list[str], filter_string: str = "") -> list:
        out, token = [], None
        while True:
            page = self.client.search_runs(exp_ids, filter_string, max_results=1000, page_token=token)
            out += list(page)
            token = page.token
            if not token:
                return out

    def find_runs(
        self, experiment=None, parent_id: Any = ..., tags=None, properties=None, status=None
    ) -> list[RunRecord]:
        if experiment is not None:
            exp = self.client.get_experiment_by_name(experiment)
            if exp is None:
                return []
            exp_ids = [exp.experiment_id]
        else:
            exp_ids = [e.experiment_id for e in self.client.search_experiments()]
        filt = f"tags.`{PARENT}` = '{parent_id}'" if isinstance(parent_id, str) else ""
        recs = [self._record(r) for r in self._search(exp_ids, filt)]
        if parent_id is None:
            recs = [r for r in recs if r.parent_id is None]
        for k, v in (tags or {}).items():
            recs = [r for r in recs if k in r.tags and (v is None or r.tags[k] == v)]
        for k, v in (properties or {}).items():
            recs = [r for r in recs if r.properties.get(k) == v]
        if status is not None:
            recs = [r for r in recs if r.status == status]
        return sorted(recs, key=lambda r: (r.created, r.run_id))

    def search_runs(self, query: RunQuery) -> RunPage:
        """One ``search_runs`` call for the page (MLflow pages by offset tokens), and one per page row with
        children to count them."""
        from mlflow.utils.search_utils import SearchUtils

        exp_ids = self._experiment_ids(query.experiments)
        if not exp_ids:
            return RunPage([], 0, False)
        page = self.client.search_runs(
            exp_ids,
            mlflow_search.filter_string(query, metric_key),
            max_results=query.limit,
            order_by=mlflow_search.order_by(query.order_by, query.descending, metric_key),
            page_token=SearchUtils.create_page_token(query.offset) if query.offset else None,
        )
        runs = list(page)
        recs = [self._record(r) for r in runs]
        metrics = {rec.run_id: self._scalars(run) for rec, run in zip(recs, runs)}
        children = {}
        for run in runs:
            if run.data.tags.get(HAS_CHILDREN):
                kids = self.client.search_runs(
                    [run.info.experiment_id], f"tags.`{PARENT}` = '{run.info.run_id}'", max_results=COUNT_CHILDREN_TO
                )
                if len(kids):
                    children[run.info.run_id] = len(kids)
        total = query.offset + len(recs) if not page.token else None
        return RunPage(recs, total, bool(page.token), children, metrics, rows_read=len(recs))

    def _scalars(self, run) -> dict[str, float | None]:
        kinds = self._kinds_of(run.info.run_id, run.data.tags)
        out: dict[str, float | None] = {}
        for k, v in run.data.metrics.items():
            key = self._key_of(run.info.run_id, k, kinds)
            if key.kind == SCALAR:
                f = float(_unclamp(np.float64(v)))
                out[key.name] = None if math.isnan(f) else f
        return out

    def _experiment_ids(self, names: Iterable[str]) -> list[str]:
        names = list(names)
        if not names:
            return [e.experiment_id for e in self.client.search_experiments()]
        out = []
        for n in names:
            exp = self.client.get_experiment_by_name(n)
            if exp is not None:
                out.append(exp.experiment_id)
        return out

    def run_columns(self, experiments: Iterable[str] = ()) -> RunColumns:
        """Names from the newest ``COLUMN_SAMPLE`` runs: MLflow has no query for distinct metric keys."""
        exp_ids = self._experiment_ids(experiments)
        if not exp_ids:
            return RunColumns([], [])
        runs = self.client.search_runs(exp_ids, "", max_results=COLUMN_SAMPLE)
        metrics: set[str] = set()
        params: set[str] = set()
        for run in runs:
            metrics.update(self._scalars(run))
            params.update(params_of(self._record(run)))
        return RunColumns(sorted(metrics), sorted(params))

    def update_run(self, run_id: str, **fields: Any) -> None:
        tags = {}
        if "status" in fields:
            tags[f"{TAG}status"] = fields["status"]
        if fields.get("started") is not None:
            tags[f"{TAG}started"] = repr(fields["started"])
        if fields.get("heartbeat") is not None:
            tags[f"{TAG}heartbeat"] = repr(fields["heartbeat"])
        if fields.get("error") is not None:
            tags[f"{TAG}error"] = json.dumps(fields["error"])[:TAG_LIMIT]
        if "details" in fields:
            tags.update(self._details_tags(fields["details"]))
        if "name" in fields:
            tags[RUN_NAME] = fields["name"]
        self._set_tags(run_id, tags)
        status = fields.get("status")
        if status in _ML_STATUS:
            self.upload_logs(run_id)
            self.client.set_terminated(
                run_id, status=_ML_STATUS[status], end_time=_ms(fields.get("ended") or time.time())
            )

    def set_status_if(self, run_id: str, allowed_from: Iterable[str], **fields: Any) -> bool:
        # MLflow has no compare-and-set: a race between two writers is possible, and rare
        if self.get_run(run_id).status not in tuple(allowed_from):
            return False
        self.update_run(run_id, **fields)
        return True

    def _set_tags(self, run_id: str, tags: dict[str, str | None]) -> None:
        from mlflow.entities import RunTag

        items = [RunTag(k, str(v)[:TAG_LIMIT]) for k, v in _write_tags(tags).items()]
        for i in range(0, len(items), BATCH_TAGS):
            self.client.log_batch(run_id, tags=items[i : i + BATCH_TAGS])

    def set_tags(self, run_id: str, tags: dict[str, str | None]) -> None:
        self._set_tags(run_id, tags)

    def remove_tags(self, run_id: str, keys: Iterable[str]) -> None:
        present = self._get(run_id).data.tags
        for k in keys:
            if k in present:
                self.client.delete_tag(run_id, k)

    def add_properties(self, run_id: str, properties: dict[str, str]) -> None:
        from mlflow.entities import Param

        have = self._get(run_id).data.params
        for k, v in properties.items():
            if k in have and have[k] != v:
                raise ValueError(
                    f"property {k!r} is already {have[k]!r}; properties cannot change once set (use tags for values that change)"
                )
        new = [Param(k, v) for k, v in properties.items() if k not in have]
        if HYPERPARAMETERS in properties and HYPERPARAMETERS not in have:
            # each hyperparameter its own param too: MLflow's UI shows, sorts and filters them as columns
            new += [
                Param(k, v) for k, v in _split_hyperparameters(properties[HYPERPARAMETERS]).items() if k not in have
            ]
        for i in range(0, len(new), BATCH_TAGS):
            self.client.log_batch(run_id, params=new[i : i + BATCH_TAGS])

    def heartbeat(self, run_ids: Iterable[str], when: float) -> None:
        for rid in run_ids:
            self.client.set_tag(rid, f"{TAG}heartbeat", repr(when))

    # -- metrics -------------------------------------------------------------------
    def _kinds_of(self, run_id: str, tags: dict | None = None) -> dict:
        if run_id not in self._kinds:
            t = tags if tags is not None else self._get(run_id).data.tags
            self._kinds[run_id] = json.loads(t.get(f"{TAG}kinds", "{}"))
        return self._kinds[run_id]

    def write_points(self, run_id: str, batches: list[PointBatch], descriptions: dict | None = None) -> None:
        from mlflow.entities import Metric

        kinds = self._kinds_of(run_id)
        before = json.dumps(kinds, sort_keys=True)
        metrics, tags = [], {}
        for batch in batches:
            kind, name, col = batch.key.kind, batch.key.name, batch.key.column
            values, steps, walls = batch.values, batch.steps, batch.walls
            mkey = metric_key(name, col)
            entry = kinds.setdefault(name, {"kind": kind, "keys": {}})
            entry["keys"].setdefault(mkey, col)
            for v, s, w in zip(values, steps, walls):
                if kind == IMAGE:
                    tags[f"{TAG}image.{mkey}"] = v
                    continue
                if isinstance(v, str):
                    tags[f"{TAG}text.{mkey}"] = v
                    continue
                if s is None:
                    s = self._index(run_id, mkey)
                metrics.append(Metric(mkey, float(v), int(w * 1000), int(s)))
        if json.dumps(kinds, sort_keys=True) != before:
            tags[f"{TAG}kinds"] = json.dumps(kinds)
        from mlflow.exceptions import MlflowException

        for i in range(0, len(metrics), BATCH):
            try:
                self.client.log_batch(run_id, metrics=metrics[i : i + BATCH])
            except MlflowException as e:
                if e.error_code == "INVALID_PARAMETER_VALUE":  # the server refused a value: not worth a retry
                    raise ValueError(f"the tracking server refused a metric value: {e.message}") from None
                raise
        if tags:
            self._set_tags(run_id, tags)

    def _index(self, run_id: str, mkey: str) -> int:
        k = (run_id, mkey)
        if k not in self._next_index:  # continue after what is there (another process may have logged)
            self._next_index[k] = len(self.client.get_metric_history(run_id, mkey))
        i = self._next_index[k]
        self._next_index[k] = i + 1
        return i

    def _key_of(self, run_id: str, mkey: str, kinds: dict) -> SeriesKey:
        for name, entry in kinds.items():
            if mkey in entry["keys"]:
                return SeriesKey(run_id, name, entry["kind"], entry["keys"][mkey])
        return SeriesKey(run_id, mkey, SCALAR, None)  # a metric logged with plain mlflow

    @staticmethod
    def _chunk(
        key: SeriesKey, history: list, first_index: int = 0, replace_all: bool = False, total: int | None = None
    ) -> SeriesChunk:
        hist = sorted(history, key=lambda m: (m.timestamp, m.step)) if not replace_all else history
        values = _unclamp(np.array([m.value for m in hist], dtype=np.float64))
        steps = None if key.kind in (LIST, TABLE) else np.array([m.step for m in hist], dtype=np.float64)
        walls = np.array([m.timestamp / 1000 for m in hist], dtype=np.float64)
        return SeriesChunk(key, values, steps, walls, "", first_index, replace=replace_all, total=total)

    def _text_chunks(self, run_id: str, tags: dict, kinds: dict) -> list[SeriesChunk]:
        out = []
        for t, v in tags.items():
            for prefix in (f"{TAG}text.", f"{TAG}image."):
                if t.startswith(prefix):
                    key = self._key_of(run_id, t[len(prefix) :], kinds)
                    arr = np.empty(1, dtype=object)
                    arr[0] = v
                    out.append(SeriesChunk(key, arr, None, np.array([time.time()]), ""))
        return out

    def read_series(self, run_id: str, name: str | None = None) -> list[SeriesChunk]:
        run = self._get(run_id)
        kinds = self._kinds_of(run_id, run.data.tags)
        out = []
        for mkey in run.data.metrics:
            key = self._key_of(run_id, mkey, kinds)
            if name is None or key.name == name:
                out.append(self._chunk(key, self.client.get_metric_history(run_id, mkey)))
        out += [c for c in self._text_chunks(run_id, run.data.tags, kinds) if name is None or c.key.name == name]
        return out

    def latest_values(self, run_ids: list[str]) -> dict[str, dict[str, Any]]:
        out = {}
        for rid in run_ids:
            run = self._get(rid)
            kinds = self._kinds_of(rid, run.data.tags)
            out[rid] = {
                self._key_of(rid, k, kinds).name: float(_unclamp(np.float64(v)))
                for k, v in run.data.metrics.items()
                if self._key_of(rid, k, kinds).kind == SCALAR
            }
        return out

    # -- incremental reads ------------------------------------------------------------
    def read_since(self, run_ids: Iterable[str], cursor: Cursor | None = None, log_runs: Iterable[str] = ()):
        """Compare each watched run (and child) with what the cursor saw; fetch only what moved."""
        cursor = cursor or Cursor()
        watched = list(run_ids)
        seen_runs: dict = dict(cursor.extra.get("runs", {}))
        latest: dict = dict(cursor.extra.get("latest", {}))
        beats: dict[str, float | None] = dict(cursor.beats)
        counts = dict(cursor.counts)
        delta = Delta()
        runs = [self._get(r) for r in watched]
        exp_ids = sorted({r.info.experiment_id for r in runs})
        for parent in watched:
            runs += self._search(exp_ids, f"tags.`{PARENT}` = '{parent}'")
        children = set(cursor.children)
        changed = False
        remote: set[str] = set()  # runs a cluster's worker executes: their logs are sent from there
        for run in runs:
            rec = self._record(run)
            if rec.details.worker:
                remote.add(rec.run_id)
            sig = (rec.status, rec.name, rec.ended, json.dumps(rec.tags, sort_keys=True),
                   json.dumps(rec.properties, sort_keys=True), json.dumps(rec.error))  # fmt: skip
            if seen_runs.get(rec.run_id) != sig:
                seen_runs[rec.run_id] = sig
                delta.runs[rec.run_id] = rec
                changed = True
            tag = run.data.tags.get(f"{TAG}heartbeat")
            beat = float(tag) if tag is not None else None
            if beat is not None and beats.get(rec.run_id) != beat:
                beats[rec.run_id] = beat
                if rec.run_id not in delta.runs:
                    delta.beats[rec.run_id] = beat
                changed = True
            if rec.parent_id in watched:
                children.add(rec.run_id)
            kinds = self._kinds[rec.run_id] = json.loads(run.data.tags.get(f"{TAG}kinds", "{}"))
            for m in getattr(run.data, "_metric_objs", []):
                mark = (m.timestamp, m.step, m.value)
                lk = f"{rec.run_id}\x1f{m.key}"
                if latest.get(lk) == mark:
                    continue
                latest[lk] = mark
                changed = True
                key = self._key_of(rec.run_id, m.key, kinds)
                have = counts.get(key, 0)
                if max(m.step + 1, have) > SAMPLE_ABOVE:  # long: a sampled view of it all, not every point
                    sampled = self._sampled(rec.run_id, m.key)
                    if sampled is not None:
                        delta.series.append(self._chunk(key, sampled, 0, replace_all=True, total=m.step + 1))
                        counts[key] = m.step + 1
                        continue
                history = self.client.get_metric_history(rec.run_id, m.key)
                new = sorted(history, key=lambda x: (x.timestamp, x.step))[have:]
                if new:
                    delta.series.append(self._chunk(key, new, have))
                    counts[key] = have + len(new)
            for ch in self._text_chunks(rec.run_id, run.data.tags, kinds):
                lk = f"{rec.run_id}\x1f{ch.key.name}\x1ftext"
                if latest.get(lk) != ch.values[0]:
                    latest[lk] = ch.values[0]
                    counts[ch.key] = counts.get(ch.key, 0) + 1
                    ch.first_index = counts[ch.key] - 1
                    delta.series.append(ch)
                    changed = True
        logs = dict(cursor.logs)
        for rid in log_runs:
            for name, text, off in self._read_logs(rid, logs, remote=rid in remote):
                logs[(rid, name)] = off
                if text:
                    delta.logs[(rid, name)] = text
                    changed = True
        if not changed and logs == dict(cursor.logs):
            return delta, cursor
        extra = {**cursor.extra, "runs": seen_runs, "latest": latest}
        return delta, replace(cursor, counts=counts, children=frozenset(children), logs=logs, beats=beats, extra=extra)

    def _sampled(self, run_id: str, mkey: str) -> list | None:
        """A sampled history from the server's bulk-interval endpoint (None where there is none)."""
        if not self.tracking_uri.startswith(("http://", "https://")):
            return None
        from mlflow.entities import Metric
        from mlflow.utils.rest_utils import http_request

        try:
            from mlflow.utils.credentials import get_default_host_creds  # MLflow's own credential lookup

            resp = http_request(
                get_default_host_creds(self.tracking_uri),
                "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval",
                "GET",
                params={"run_ids": run_id, "metric_key": mkey, "max_results": SAMPLE_POINTS},
            )
            resp.raise_for_status()
            rows = resp.json().get("metrics", [])
        except Exception:
            return None
        return [Metric(mkey, float(r.get("value", math.nan)), int(r["timestamp"]), int(r.get("step", 0))) for r in rows]

    # -- files -------------------------------------------------------------------------
    def run_dir(self, run_id: str) -> Path:
        return self.files.run_dir(run_id)

    def put_file(self, run_id: str, name: str, source: Any) -> None:
        name = check_name(name)
        folder, base = os.path.split(name)
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / base
            if hasattr(source, "read"):
                with open(local, "wb") as f:
                    shutil.copyfileobj(source, f)
            else:
                shutil.copyfile(source, local)
            self.client.log_artifact(run_id, str(local), artifact_path=folder or None)

    def list_files(self, run_id: str) -> list[str]:
        out: list[str] = []
        stack: list[str | None] = [None]
        while stack:
            path = stack.pop()
            for f in self.client.list_artifacts(run_id, path):
                (stack.append(f.path) if f.is_dir else out.append(f.path))
        out += [n for n in self.files.list(run_id) if is_log(n)]
        return sorted({n for n in out if PARTS + "/" not in n})  # a live log's pieces are not files of the run

    def get_file(self, run_id: str, name: str, dest: str) -> str:
        local = self.files.path(run_id, name)  # refuses absolute names, '..' and links out of the run
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        if local.is_file() and not local.is_symlink():
            shutil.copyfile(local, dest)
            return str(dest)
        with tempfile.TemporaryDirectory() as tmp:
            try:
                got = self.client.download_artifacts(run_id, check_name(name), tmp)
            except Exception as e:
                raise FileNotFoundError(f"run {run_id} has no file {name!r}") from e
            if not os.path.realpath(got).startswith(os.path.realpath(tmp) + os.sep):
                raise FileNotFoundError(f"run {run_id} has no file {name!r}")
            shutil.copyfile(got, dest)
        return str(dest)

    def read_file(self, run_id: str, name: str, limit: int | None = None) -> bytes:
        with tempfile.TemporaryDirectory() as tmp:
            path = self.get_file(run_id, name, os.path.join(tmp, "f"))
            with open(path, "rb") as f:
                return f.read(limit if limit is not None else -1)

    def file_path(self, run_id: str, name: str) -> Path:
        """A local path for the file: the staging copy of a log, else a downloaded copy."""
        local = self.files.path(run_id, name)
        if not local.is_file() and not is_log(check_name(name)):  # logs are written here first
            self.get_file(run_id, name, str(local))
        return local

    def log_path(self, run_id: str, name: str) -> str:
        return self.files.log_path(run_id, name)

    def read_logs(self, run_id: str, offsets) -> list[tuple[str, str, int]]:
        return self._read_logs(run_id, offsets, remote=not self.files.path(run_id, DRIVER_LOG).is_file())

    def _read_logs(self, run_id: str, offsets, remote: bool) -> list[tuple[str, str, int]]:
        """Logs written on this machine from the staging folder; with ``remote``, also those another
        machine sent (a cluster's worker): whole files once the run ended, else the pieces shipped so far."""
        local = read_new_log_text(self.files.run_dir(run_id), run_id, offsets)
        if not remote:
            return local
        here = {n for n in self.files.list(run_id) if is_log(n)}
        return sorted(local + self._remote_logs(run_id, offsets, here))

    def _remote_logs(self, run_id: str, offsets, skip: set[str]) -> list[tuple[str, str, int]]:
        try:
            entries = self.client.list_artifacts(run_id, LOG_DIR)
        except Exception:
            return []
        files = {e.path: e for e in entries if not e.is_dir}
        parts = {e.path[: -len(PARTS)]: e.path for e in entries if e.is_dir and e.path.endswith(PARTS)}
        out: list[tuple[str, str, int]] = []
        for name in sorted((set(files) | set(parts)) - skip):
            known = offsets.get((run_id, name))
            if name in files:  # the run ended: its whole log
                if known is not None and (files[name].file_size or 0) <= known:
                    continue
                data = self.read_file(run_id, name)
                start = known if known is not None else max(0, len(data) - LOG_FIRST_READ_BYTES)
                data = data[start:]
            else:  # live: the pieces sent so far, each named by its offset in the log
                pieces = sorted(
                    (int(p.path.rsplit("/", 1)[1]), p.path)
                    for p in self.client.list_artifacts(run_id, parts[name])
                    if not p.is_dir and p.path.rsplit("/", 1)[1].isdigit()
                )
                if not pieces:
                    continue
                if known is None:  # joining late: about the last LOG_FIRST_READ_BYTES of it
                    last = pieces[-1][0]
                    known = next((off for off, _ in pieces if off >= last - LOG_FIRST_READ_BYTES), last)
                new = [(off, path) for off, path in pieces if off >= known]
                if not new:
                    continue
                start, data = new[0][0], b"".join(self.read_file(run_id, path) for _, path in new)
            if known is None and start:  # joined late in a whole file: drop the partial first line
                cut = data.find(b"\n")
                start, data = start + cut + 1, data[cut + 1 :]
            end = data.rfind(b"\n") + 1
            if end:
                out.append((name, data[:end].decode("utf-8", errors="replace"), start + end))
        return out

    def ship_logs(self, run_id: str, final: bool = False) -> None:
        """Send the new whole lines of each local log as a piece (``<log>.parts/<offset>``): MLflow
        artifacts cannot be appended to. ``final``: the logs whole, as a finished run keeps them."""
        if final:
            self.upload_logs(run_id)
            return
        for name in (n for n in self.files.list(run_id) if is_log(n)):
            path = self.files.path(run_id, name)
            sent = self._shipped.get((run_id, name), 0)
            size = path.stat().st_size
            if size <= sent:
                continue
            with open(path, "rb") as f:
                f.seek(sent)
                data = f.read(size - sent)
            end = data.rfind(b"\n") + 1
            if not end:
                continue
            self.put_file(run_id, f"{name}{PARTS}/{sent:012d}", io.BytesIO(data[:end]))
            self._shipped[(run_id, name)] = sent + end

    def upload_logs(self, run_id: str) -> None:
        """Copy the run's local log files to its artifacts (done when the run ends)."""
        for name in LOG_DIRS:
            folder = self.run_dir(run_id) / name
            if folder.is_dir():
                for p in folder.iterdir():
                    if p.is_file():
                        self.client.log_artifact(run_id, str(p), artifact_path=name)

    def portal_url(self, run_id: str, experiment_id: str | None = None) -> str:
        """The run's page in the MLflow UI (an empty string where there is no UI: a file or sqlite URI)."""
        if not self.tracking_uri.startswith(("http://", "https://")):
            return ""
        if experiment_id is None:
            experiment_id = self._get(run_id).info.experiment_id
        return f"{public_uri(self.tracking_uri).rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"

    def close(self) -> None:
        pass


def _scrubbing(method):
    """Re-raise an exception whose text holds the tracking URI's password without it."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except Exception as e:
            if self._secrets and any(s in f"{e} {e.args!r}" for s in self._secrets):
                raise StoreUnavailable(scrub(f"{type(e).__name__}: {e}", self.tracking_uri)) from None
            raise

    return wrapper


for _name, _fn in list(vars(MlflowStore).items()):
    if callable(_fn) and not _name.startswith("_"):
        setattr(MlflowStore, _name, _scrubbing(_fn))


class _ScrubFilter(logging.Filter):
    def __init__(self, uri: str) -> None:
        super().__init__()
        self.uri = uri

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        clean = scrub(text, self.uri)
        if clean != text:
            record.msg, record.args = clean, None
        return True


def _split_hyperparameters(raw: str) -> dict[str, str]:
    try:
        hp = json.loads(raw)
    except ValueError:
        return {}
    if not isinstance(hp, dict):
        return {}
    return {metric_key(str(k)): v if isinstance(v, str) else json.dumps(v) for k, v in hp.items()}


def _properties(params: dict[str, str]) -> dict[str, str]:
    """A run's properties: its params less the per-hyperparameter copies (add_properties)."""
    split = _split_hyperparameters(params.get(HYPERPARAMETERS, ""))
    return {k: v for k, v in params.items() if k not in split or k == HYPERPARAMETERS}


def _write_tags(tags: dict[str, str | None]) -> dict[str, str]:
    """MLflow tags are strings: a tag without a value is stored as "" and marked, so it reads back as None."""
    out: dict[str, str] = {}
    for k, v in tags.items():
        out[k] = "" if v is None else v
        if not k.startswith(("mlflow.", TAG)):
            out[f"{VALUELESS}{k}"] = "1" if v is None else "0"
    return out


def _read_tags(t: dict[str, str]) -> dict[str, str | None]:
    return {
        k: (None if t.get(f"{VALUELESS}{k}") == "1" else v) for k, v in t.items() if not k.startswith(("mlflow.", TAG))
    }


def _scrub_logs(uri: str) -> None:
    """MLflow's and urllib3's own warnings may quote the URL: scrub them at the handlers that print them."""
    for logger in (logging.getLogger(), logging.getLogger("mlflow"), logging.getLogger("runwidgets")):
        for handler in logger.handlers:
            if not any(isinstance(f, _ScrubFilter) and f.uri == uri for f in handler.filters):
                handler.addFilter(_ScrubFilter(uri))
