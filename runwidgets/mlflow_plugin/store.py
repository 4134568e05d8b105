"""An MLflow tracking store over a local runwidgets workspace (``runwidgets:///path``).

MLflow's names map onto ours: an MLflow run is a runwidgets run (same id),
its metrics are scalar series, its params are properties (both are set once),
its tags are tags, and its artifacts are the run's files. So whatever
``mlflow.log_metric``, ``mlflow.autolog()`` or a framework's MLflow logger
writes shows in ``RunDetails`` and the dashboard, and ``mlflow.search_runs``
and ``mlflow.get_run`` read runs the runwidgets SDK wrote.

Runs this process starts through MLflow keep a heartbeat while live, so a
process that dies without ending its run reads as lost, as SDK runs do. A
submitted run's end is its supervisor's to record (from the exit code):
``mlflow.end_run()`` inside the script does not end it early.

Logged models (MLflow 3) are kept beside the runs, in
``<workspace>/mlflow-models/<model_id>``.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from mlflow.entities import (
    Experiment,
    LifecycleStage,
    LoggedModel,
    LoggedModelStatus,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import (
    INVALID_PARAMETER_VALUE,
    INVALID_STATE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
)
from mlflow.store.entities.paged_list import PagedList
from mlflow.store.tracking.abstract_store import AbstractStore
from mlflow.utils.mlflow_tags import MLFLOW_LOGGED_MODELS, MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NAME, MLFLOW_USER
from mlflow.utils.search_utils import SearchExperimentsUtils, SearchLoggedModelsUtils, SearchUtils
from mlflow.utils.validation import _validate_batch_log_data

from ..store import base as st
from ..store.errors import RunNotFound, WorkspaceNotFound
from ..store.sqlite import SqliteStore
from ..tracking import validate as check
from .uri import local_path, tracking_uri

DEFAULT_EXPERIMENT_ID = "0"  # MLflow's default experiment; here the experiment named "Default"
DEFAULT_EXPERIMENT = "Default"
MODELS = "mlflow-models"

_TO_MLFLOW = {
    st.NOT_STARTED: "SCHEDULED",
    st.QUEUED: "SCHEDULED",
    st.STARTING: "RUNNING",
    st.RUNNING: "RUNNING",
    st.CANCEL_REQUESTED: "RUNNING",
    st.COMPLETED: "FINISHED",
    st.FAILED: "FAILED",
    st.CANCELED: "KILLED",
}
_FROM_MLFLOW = {"RUNNING": st.RUNNING, "SCHEDULED": st.QUEUED, "FINISHED": st.COMPLETED, "FAILED": st.FAILED,
                "KILLED": st.CANCELED}  # fmt: skip


class WorkspaceTrackingStore(AbstractStore):
    """``mlflow.set_tracking_uri("runwidgets:///path/to/workspace")``."""

    def __init__(self, store_uri: str | None = None, artifact_uri: str | None = None) -> None:
        super().__init__()
        from ..tracking.workspace import Workspace

        self.uri = store_uri or ""
        try:  # a mistyped URI must not make a workspace: only an existing one is opened
            self.workspace = Workspace(local_path(self.uri), create=False)
        except WorkspaceNotFound as e:
            raise MlflowException(
                f"{self.uri} names no runwidgets workspace ({e}); use ws.get_mlflow_tracking_uri()"
                " of a Workspace you made",
                RESOURCE_DOES_NOT_EXIST,
            ) from None
        store = self.workspace.store
        if not isinstance(store, SqliteStore):
            raise MlflowException(f"{self.uri} is not a local workspace", INVALID_PARAMETER_VALUE)
        self.store: SqliteStore = store
        self.models = Path(self.workspace.path) / MODELS
        self._ids: dict[str, str] = {}  # experiment name -> id
        self._live: set[str] = set()  # runs this process started through MLflow and keeps beating
        self._lock = threading.Lock()
        self._beater: threading.Thread | None = None

    # -- experiments -------------------------------------------------------------------
    def _experiments(self) -> list[tuple[str, str, float]]:
        return [(str(i), name, created) for i, name, created in self.store.experiment_rows()]

    def _entity(self, exp_id: str, name: str, created: float) -> Experiment:
        ms = int(created * 1000)
        return Experiment(
            experiment_id=exp_id,
            name=name,
            artifact_location=tracking_uri(Path(self.workspace.path) / "runs"),
            lifecycle_stage=LifecycleStage.ACTIVE,
            tags=[],
            creation_time=ms,
            last_update_time=ms,
        )

    def _exp_name(self, experiment_id: str) -> str:
        if str(experiment_id) == DEFAULT_EXPERIMENT_ID:
            self.store.create_experiment(DEFAULT_EXPERIMENT)
            return DEFAULT_EXPERIMENT
        for eid, name, _ in self._experiments():
            if eid == str(experiment_id):
                return name
        raise MlflowException(f"No experiment with id {experiment_id!r} in {self.uri}", RESOURCE_DOES_NOT_EXIST)

    def _exp_id(self, name: str) -> str:
        """An experiment's id; ids never change, so each is read once (search_runs asks per run)."""
        eid = self._ids.get(name)
        if eid is None:
            self._ids = {n: i for i, n, _ in self._experiments()}
            eid = self._ids[name]
        return eid

    def search_experiments(
        self, view_type=ViewType.ACTIVE_ONLY, max_results=1000, filter_string=None, order_by=None, page_token=None
    ):
        exps = [] if view_type == ViewType.DELETED_ONLY else [self._entity(*row) for row in self._experiments()]
        exps = SearchExperimentsUtils.filter(exps, filter_string)
        exps = SearchExperimentsUtils.sort(exps, order_by or ["creation_time DESC", "experiment_id ASC"])
        page, token = SearchUtils.paginate(exps, page_token, max_results)
        return PagedList(page, token)

    def create_experiment(self, name, artifact_location=None, tags=None):
        try:
            name = check.experiment_name(name)
        except (TypeError, ValueError) as e:
            raise MlflowException(str(e), INVALID_PARAMETER_VALUE) from None
        if any(n == name for _, n, _ in self._experiments()):
            raise MlflowException(f"Experiment {name!r} already exists.", RESOURCE_ALREADY_EXISTS)
        self.store.create_experiment(name)
        return self._exp_id(name)

    def get_experiment(self, experiment_id):
        name = self._exp_name(experiment_id)
        row = next(r for r in self._experiments() if r[1] == name)
        return self._entity(str(experiment_id), name, row[2])

    def get_experiment_by_name(self, experiment_name):
        row = next((r for r in self._experiments() if r[1] == experiment_name), None)
        return self._entity(*row) if row else None

    def delete_experiment(self, experiment_id):
        raise MlflowException(
            "runwidgets workspaces keep their experiments: deleting one through MLflow is refused", INVALID_STATE
        )

    def restore_experiment(self, experiment_id):
        self._exp_name(experiment_id)  # every experiment here is active

    def rename_experiment(self, experiment_id, new_name):
        raise MlflowException("renaming experiments is not supported by runwidgets workspaces", INVALID_STATE)

    # -- runs ------------------------------------------------------------------------------
    def create_run(self, experiment_id, user_id, start_time, tags, run_name):
        exp = self._exp_name(experiment_id)
        tag_map = {t.key: t.value for t in tags or []}
        run_id = uuid.uuid4().hex
        now = time.time()
        started = (start_time / 1000) if start_time else now
        name = run_name or tag_map.get(MLFLOW_RUN_NAME) or run_id
        tag_map[MLFLOW_RUN_NAME] = name
        if user_id and MLFLOW_USER not in tag_map:
            tag_map[MLFLOW_USER] = user_id
        parent = tag_map.get(MLFLOW_PARENT_RUN_ID)
        rec = st.RunRecord(
            run_id=run_id,
            experiment=exp,
            parent_id=parent if parent and self._exists(parent) else None,
            name=name,
            status=st.RUNNING,
            created=started,
            started=started,
            heartbeat=now,
            kind=st.INTERACTIVE,
            tags=tag_map,
        )
        self.store.create_run(rec)
        self._watch(run_id)
        return self.get_run(run_id)

    def _exists(self, run_id: str) -> bool:
        try:
            self.store.get_run(run_id)
            return True
        except (RunNotFound, KeyError):
            return False

    def _record(self, run_id: str) -> st.RunRecord:
        try:
            return self.store.get_run(run_id)
        except (RunNotFound, KeyError, ValueError):
            raise MlflowException(f"Run with id={run_id} not found", RESOURCE_DOES_NOT_EXIST) from None

    def _run_entity(self, rec: st.RunRecord) -> Run:
        status = _TO_MLFLOW.get(rec.display_status, "RUNNING")
        tags = {k: ("" if v is None else v) for k, v in rec.tags.items()}
        tags[MLFLOW_RUN_NAME] = rec.name
        if rec.parent_id:
            tags[MLFLOW_PARENT_RUN_ID] = rec.parent_id
        metrics = [
            Metric(name, float(v) if isinstance(v, (int, float)) else float("nan"), int(wall * 1000), int(step or 0))
            for name, (v, step, wall) in self.store.last_points(rec.run_id).items()
            if not isinstance(v, str)
        ]
        info = RunInfo(
            run_id=rec.run_id,
            experiment_id=self._exp_id(rec.experiment),
            user_id=tags.get(MLFLOW_USER, ""),
            status=status,
            start_time=int((rec.started or rec.created) * 1000),
            end_time=int(rec.ended * 1000) if rec.ended and status != "RUNNING" else None,
            lifecycle_stage=LifecycleStage.ACTIVE,
            artifact_uri=tracking_uri(self.store.run_dir(rec.run_id)),
            run_name=rec.name,
        )
        data = RunData(
            metrics=metrics,
            params=[Param(k, v) for k, v in rec.properties.items()],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )
        return Run(run_info=info, run_data=data)

    def get_run(self, run_id):
        return self._run_entity(self._record(run_id))

    def update_run_info(self, run_id, run_status, end_time, run_name):
        rec = self._record(run_id)
        status = RunStatus.to_string(run_status) if isinstance(run_status, int) else str(run_status)
        ours = _FROM_MLFLOW.get(status, st.RUNNING)
        if run_name:
            self.store.update_run(run_id, name=check.display_name(run_name, "run name"))
            self.store.set_tags(run_id, {MLFLOW_RUN_NAME: run_name})
        if rec.details.supervised:
            pass  # a submitted run ends when its script exits: the supervisor records how
        elif ours in st.TERMINAL:
            ended = (end_time / 1000) if end_time else time.time()
            self.store.set_status_if(
                run_id, (st.NOT_STARTED, st.QUEUED, *st.LIVE), status=ours, ended=ended, heartbeat=ended
            )
            self._unwatch(run_id)
        elif ours == st.RUNNING and rec.status != st.RUNNING:  # mlflow.start_run(run_id=...) reopens a run
            self.store.update_run(run_id, status=st.RUNNING, ended=None, heartbeat=time.time())
            self._watch(run_id)
        return self.get_run(run_id).info

    def delete_run(self, run_id):
        raise MlflowException("runwidgets keeps every run: deleting one through MLflow is refused", INVALID_STATE)

    def restore_run(self, run_id):
        self._record(run_id)

    # -- logging ----------------------------------------------------------------------------------
    def log_batch(self, run_id, metrics, params, tags):
        _validate_batch_log_data(metrics, params, tags)
        self._record(run_id)
        linked = {m.key for m in metrics if getattr(m, "model_id", None)}
        if linked:
            # MLflow 3 links a run's points to a model it logs by logging them again with the model's id:
            # a point already there (same value, step and time) stays one point, as in MLflow's own stores
            have = {(m.key, m.value, m.step, m.timestamp) for k in linked for m in self._history(run_id, k)}
            metrics = [m for m in metrics if (m.key, m.value, m.step, m.timestamp) not in have]
        batches: dict[str, st.PointBatch] = {}
        for m in metrics:
            b = batches.get(m.key)
            if b is None:
                b = batches[m.key] = st.PointBatch(st.SeriesKey(run_id, m.key, st.SCALAR), [], [], [])
            b.values.append(float(m.value))
            b.steps.append(int(m.step) if m.step is not None else None)
            b.walls.append((m.timestamp / 1000) if m.timestamp else time.time())
        if batches:
            self.store.write_points(run_id, list(batches.values()), {})
        if params:
            try:
                self.store.add_properties(run_id, {p.key: str(p.value) for p in params})
            except ValueError as e:
                raise MlflowException(f"Changing param values is not allowed. {e}", INVALID_PARAMETER_VALUE) from None
        if tags:
            values = {t.key: str(t.value) for t in tags}
            self.store.set_tags(run_id, values)
            if MLFLOW_RUN_NAME in values and values[MLFLOW_RUN_NAME]:
                self.store.update_run(run_id, name=values[MLFLOW_RUN_NAME])

    def log_metric(self, run_id, metric):
        self.log_batch(run_id, [metric], [], [])

    def log_param(self, run_id, param):
        self.log_batch(run_id, [], [param], [])

    def set_tag(self, run_id, tag):
        self.log_batch(run_id, [], [], [tag])

    def delete_tag(self, run_id, key):
        rec = self._record(run_id)
        if key not in rec.tags:
            raise MlflowException(f"No tag with name: {key} in run with id {run_id}", RESOURCE_DOES_NOT_EXIST)
        self.store.remove_tags(run_id, [key])

    def get_metric_history(self, run_id, metric_key, max_results=None, page_token=None):
        self._record(run_id)
        out = self._history(run_id, metric_key)
        return PagedList(out[:max_results] if max_results else out, None)

    def _history(self, run_id: str, metric_key: str) -> list[Metric]:
        out = []
        for ch in self.store.read_series(run_id, metric_key):
            if ch.key.kind != st.SCALAR:
                continue
            for v, x, wall in zip(ch.values.tolist(), ch.x().tolist(), ch.walls.tolist()):
                if isinstance(v, (int, float)):
                    out.append(Metric(metric_key, float(v), int(wall * 1000), int(x)))
        return out

    def _search_runs(self, experiment_ids, filter_string, run_view_type, max_results, order_by, page_token):
        if run_view_type == ViewType.DELETED_ONLY:
            return [], None
        runs = []
        for eid in experiment_ids:
            for rec in self.store.find_runs(experiment=self._exp_name(eid)):
                runs.append(self._run_entity(rec))
        runs = SearchUtils.filter(runs, filter_string)
        runs = SearchUtils.sort(runs, order_by)
        return SearchUtils.paginate(runs, page_token, max_results)

    def log_inputs(self, run_id, datasets=None, models=None):
        self._append_json(run_id, "mlflow/inputs.json", {
            "datasets": [_dataset_dict(d) for d in datasets or []],
            "models": [m.model_id for m in models or []],
        })  # fmt: skip

    def log_outputs(self, run_id, models):
        self._append_json(run_id, "mlflow/outputs.json", {"models": [m.model_id for m in models or []]})

    def _append_json(self, run_id: str, name: str, entry: dict) -> None:
        import io

        self._record(run_id)
        try:
            have = json.loads(self.store.read_file(run_id, name))
        except FileNotFoundError:
            have = []
        self.store.put_file(run_id, name, io.BytesIO(json.dumps([*have, entry], indent=1).encode()))

    def record_logged_model(self, run_id, mlflow_model):
        rec = self._record(run_id)
        models = json.loads(rec.tags.get(MLFLOW_LOGGED_MODELS) or "[]")
        self.store.set_tags(run_id, {MLFLOW_LOGGED_MODELS: json.dumps([*models, mlflow_model.get_tags_dict()])})

    # -- logged models (MLflow 3) -----------------------------------------------------------------
    def _model_file(self, model_id: str) -> Path:
        if not model_id.replace("-", "").isalnum():
            raise MlflowException(f"invalid model id {model_id!r}", INVALID_PARAMETER_VALUE)
        return self.models / model_id / "model.json"

    def _save_model(self, model: LoggedModel) -> LoggedModel:
        f = self._model_file(model.model_id)
        f.parent.mkdir(parents=True, exist_ok=True)
        tmp = f.with_suffix(".partial")
        tmp.write_text(json.dumps(model.to_dictionary()))
        os.replace(tmp, f)
        return model

    def create_logged_model(
        self, experiment_id=DEFAULT_EXPERIMENT_ID, name=None, source_run_id=None, tags=None, params=None,
        model_type=None,
    ):  # fmt: skip
        self._exp_name(experiment_id)
        model_id = f"m-{uuid.uuid4().hex}"
        now = int(time.time() * 1000)
        return self._save_model(
            LoggedModel(
                experiment_id=str(experiment_id),
                model_id=model_id,
                name=name or model_id,
                artifact_location=tracking_uri(self.models / model_id / "artifacts"),
                creation_timestamp=now,
                last_updated_timestamp=now,
                model_type=model_type,
                source_run_id=source_run_id,
                status=LoggedModelStatus.PENDING,
                tags={t.key: t.value for t in tags or []},
                params={p.key: p.value for p in params or []},
            )
        )

    def get_logged_model(self, model_id, allow_deleted=False):
        f = self._model_file(model_id)
        if not f.is_file():
            raise MlflowException(f"Logged model with ID '{model_id}' not found.", RESOURCE_DOES_NOT_EXIST)
        d = json.loads(f.read_text())
        return LoggedModel(**{k: v for k, v in d.items() if k != "metrics"})

    def _update_model(self, model_id: str, **changes: Any) -> LoggedModel:
        d = self.get_logged_model(model_id).to_dictionary()
        d.pop("metrics", None)
        d.update(changes, last_updated_timestamp=int(time.time() * 1000))
        return self._save_model(LoggedModel(**d))

    def finalize_logged_model(self, model_id, status):
        return self._update_model(model_id, status=status.to_int() if hasattr(status, "to_int") else int(status))

    def set_logged_model_tags(self, model_id, tags):
        have = self.get_logged_model(model_id).tags
        self._update_model(model_id, tags={**have, **{t.key: t.value for t in tags}})

    def delete_logged_model_tag(self, model_id, key):
        have = dict(self.get_logged_model(model_id).tags)
        if key not in have:
            raise MlflowException(f"No tag with key {key!r} in model {model_id}", RESOURCE_DOES_NOT_EXIST)
        del have[key]
        self._update_model(model_id, tags=have)

    def delete_logged_model(self, model_id):
        raise MlflowException("runwidgets keeps logged models: deleting one is refused", INVALID_STATE)

    def search_logged_models(
        self, experiment_ids, filter_string=None, datasets=None, max_results=None, order_by=None, page_token=None
    ):
        wanted = {str(e) for e in experiment_ids}
        models = []
        if self.models.is_dir():
            for f in sorted(self.models.glob("*/model.json")):
                m = self.get_logged_model(f.parent.name)
                if m.experiment_id in wanted:
                    models.append(m)
        models = SearchLoggedModelsUtils.filter_logged_models(models, filter_string, datasets)
        models = SearchLoggedModelsUtils.sort(models, order_by)
        page, token = SearchLoggedModelsUtils.paginate(models, page_token, max_results or 100)
        return PagedList(page, token)

    # -- heartbeats of runs started here --------------------------------------------------------------------
    def _watch(self, run_id: str) -> None:
        with self._lock:
            self._live.add(run_id)
            if self._beater is None or not self._beater.is_alive():
                self._beater = threading.Thread(target=self._beat, name="runwidgets-mlflow-heartbeat", daemon=True)
                self._beater.start()

    def _unwatch(self, run_id: str) -> None:
        with self._lock:
            self._live.discard(run_id)

    def _beat(self) -> None:
        while True:
            time.sleep(st.heartbeat_interval())
            with self._lock:
                live = list(self._live)
            if live:
                try:
                    self.store.heartbeat(live, time.time())
                except Exception:  # a busy store must not kill the training loop
                    pass


def _dataset_dict(d: Any) -> dict:
    ds = getattr(d, "dataset", d)
    return {k: getattr(ds, k, None) for k in ("name", "digest", "source_type", "source")}
