"""Sweeps: a parent run whose children are submitted scripts, one per parameter set.

``exp.submit(HyperDriveConfig(...))`` records the parent with every parameter
set drawn, snapshots the source once, and starts ``python -m
runwidgets.submit.sweep WORKSPACE PARENT_ID``: a process, detached like a
supervisor, that keeps at most ``max_concurrent_runs`` children going, keeps
the parent's "best so far" tags current, obeys cancel, and records how the
children ended.
"""

from __future__ import annotations

import enum
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from typing import Any, cast

from .. import ranking
from .._process import alive
from ..store.base import (
    CANCEL_REQUESTED,
    CANCELED,
    COMPLETED,
    FAILED,
    LIVE,
    QUEUED,
    RUNNING,
    SCALAR,
    SCRIPT_RUN,
    STARTING,
    SWEEP_RUN,
    TERMINAL,
    Cursor,
    heartbeat_timeout,
)
from ..store.details import Details, SweepSpec
from ..store.files import SUPERVISOR_LOG
from ..tracking.experiment import Experiment
from ..tracking.run import Run
from ..tracking.workspace import Workspace
from .config import ScriptRunConfig, snapshot, snapshot_dir, start_supervisor
from .detached import DetachedProcess
from .policy import EarlyTerminationPolicy, NoTerminationPolicy, from_dict
from .sampling import BayesianParameterSampling, ParameterSampling, as_arguments

POLL_SECONDS = 0.3


class PrimaryMetricGoal(str, enum.Enum):
    MAXIMIZE = "MAXIMIZE"
    MINIMIZE = "MINIMIZE"


class HyperDriveConfig:
    def __init__(
        self,
        run_config: ScriptRunConfig,
        hyperparameter_sampling: ParameterSampling,
        primary_metric_name: str,
        primary_metric_goal: PrimaryMetricGoal | str,
        max_total_runs: int | None = None,
        max_concurrent_runs: int | None = None,
        max_duration_minutes: float = 10080,
        policy: Any = None,
        resume_from: list | None = None,
        resume_child_runs: list | None = None,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            raise TypeError(f"HyperDriveConfig got unexpected arguments {sorted(kwargs)}")
        if not isinstance(run_config, ScriptRunConfig):
            raise TypeError(f"run_config must be a ScriptRunConfig, got {type(run_config).__name__}")
        if not isinstance(hyperparameter_sampling, ParameterSampling):
            raise TypeError("hyperparameter_sampling must be GridParameterSampling or RandomParameterSampling")
        if policy is not None and not isinstance(policy, EarlyTerminationPolicy):
            raise TypeError(
                "policy must be an early-termination policy (BanditPolicy, MedianStoppingPolicy,"
                f" TruncationSelectionPolicy, NoTerminationPolicy), got {type(policy).__name__}"
            )
        if (
            isinstance(hyperparameter_sampling, BayesianParameterSampling)
            and policy is not None
            and not isinstance(policy, NoTerminationPolicy)
        ):
            raise ValueError(
                "BayesianParameterSampling does not take an early-termination policy (as in Azure): each"
                " child's full result informs the next choice. Pass policy=None"
            )
        if max_duration_minutes is not None and not (
            isinstance(max_duration_minutes, (int, float)) and max_duration_minutes > 0
        ):
            raise ValueError(f"max_duration_minutes must be a positive number, got {max_duration_minutes!r}")
        if not isinstance(primary_metric_name, str) or not primary_metric_name:
            raise ValueError("primary_metric_name must name a metric the script logs")
        try:
            goal = PrimaryMetricGoal(getattr(primary_metric_goal, "value", primary_metric_goal))
        except ValueError:
            raise ValueError(
                f"primary_metric_goal must be PrimaryMetricGoal.MAXIMIZE or MINIMIZE, not {primary_metric_goal!r}"
            ) from None
        grid_size = getattr(hyperparameter_sampling, "size", None)
        if max_total_runs is None:
            if grid_size is None:
                raise ValueError(f"{type(hyperparameter_sampling).__name__} needs max_total_runs")
            max_total_runs = grid_size
        for name, v in (("max_total_runs", max_total_runs), ("max_concurrent_runs", max_concurrent_runs)):
            if v is not None and (not isinstance(v, int) or v < 1):
                raise ValueError(f"{name} must be a whole number >= 1, got {v!r}")
        self.run_config = run_config
        self.sampling = hyperparameter_sampling
        self.primary_metric_name = primary_metric_name
        self.goal = goal
        self.max_total_runs = min(max_total_runs, grid_size) if grid_size else max_total_runs
        self.max_concurrent_runs = max_concurrent_runs or self.max_total_runs
        self.max_duration_minutes = max_duration_minutes
        self.policy = policy
        self.resume_from = [_run_id(r, "resume_from") for r in resume_from or []]
        self.resume_child_runs = list(resume_child_runs or [])
        for r in self.resume_child_runs:
            _run_id(r, "resume_child_runs")

    def _submit(self, experiment: Experiment, tags: dict | None = None, **kwargs: Any) -> HyperDriveRun:
        if kwargs:
            raise TypeError(f"submit() got unexpected arguments {sorted(kwargs)}")
        from ..compute.targets import resolve

        rc = self.run_config
        ws = experiment.workspace
        resolve(ws, rc.compute_target)  # an unknown target fails here, before any run exists
        resumed = [self._resumed(ws, r) for r in self.resume_child_runs]  # run first, as Azure does
        sets = resumed + self.sampling.draw(self.max_total_runs - len(resumed))
        details = Details(
            supervised=True,
            sweep=SweepSpec(
                parameter_sets=sets,
                max_concurrent_runs=self.max_concurrent_runs,
                max_duration_minutes=self.max_duration_minutes,
                sampling=self.sampling.to_dict(),
                run_config=rc.definition(),
                policy=self.policy.to_dict() if self.policy is not None else {},
                max_total_runs=self.max_total_runs,
                resume_from=self.resume_from,
            ),
        )
        parent = HyperDriveRun._start(experiment, tags=tags, kind=SWEEP_RUN, status=QUEUED, details=details)
        parent.add_properties(
            {
                "primary_metric_config": json.dumps({"name": self.primary_metric_name, "goal": self.goal.value}),
                "max_total_runs": str(self.max_total_runs),
                "max_concurrent_runs": str(self.max_concurrent_runs),
            }
        )
        snapshot(rc.source_directory, snapshot_dir(ws, parent.id))
        env = {**os.environ, **rc.environment_variables, **ws._env(), "RUNWIDGETS_RUN_ID": parent.id}
        with open(ws.store.log_path(parent.id, SUPERVISOR_LOG), "ab") as out:
            subprocess.Popen(
                [sys.executable, "-m", "runwidgets.submit.sweep", str(ws.path), parent.id],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        return cast(HyperDriveRun, parent)

    def _resumed(self, ws: Workspace, run: Any) -> dict[str, Any]:
        """A child of an earlier sweep to run again from its checkpoint: its parameters plus
        ``--resume-from`` naming a local copy of its ``outputs/``."""
        child = run if isinstance(run, Run) else ws.get_run(run)
        params = json.loads(child.get_properties().get("hyperparameters") or "{}")
        if not params:
            raise ValueError(f"resume_child_runs: {child.id} is not a sweep's child (it has no hyperparameters)")
        folder = ws.path / "resume-from" / child.id
        child.download_files("outputs", output_directory=folder, append_prefix=False)
        folder.mkdir(parents=True, exist_ok=True)
        return {**params, "--resume-from": str(folder)}


def _numbers(values: list) -> list[float]:
    return [float(v) if isinstance(v, (int, float)) else float("nan") for v in values]


def _run_id(run: Any, what: str) -> str:
    if isinstance(run, Run):
        return run.id
    if isinstance(run, str) and run:
        return run
    raise TypeError(f"{what} takes runs (or run ids), got {type(run).__name__}")


class HyperDriveRun(Run):
    """The parent run of a sweep."""

    def _ranked(self, include_failed: bool = True, include_canceled: bool = True) -> list[tuple[float | None, Run]]:
        cfg = ranking.primary_config(self._store.get_run(self.id).properties)
        if cfg is None:
            raise ValueError(f"run {self.id} is not a sweep: it has no primary metric")
        name, goal = cfg
        out = []
        for child in self.get_children():
            status = child.get_status()
            if (status == FAILED and not include_failed) or (status == CANCELED and not include_canceled):
                continue
            out.append((ranking.best_value(child.get_metrics(name).get(name), goal), child))
        return ranking.ranked(out, goal)

    def get_best_run_by_primary_metric(self, include_failed: bool = True, include_canceled: bool = True) -> Run | None:
        """The child with the best final value of the primary metric, or None if none logged it."""
        ranked = self._ranked(include_failed, include_canceled)
        return ranked[0][1] if ranked and ranked[0][0] is not None else None

    def get_children_sorted_by_primary_metric(
        self, top: int = 0, reverse: bool = False, discard_no_metric: bool = False
    ) -> list[dict]:
        """Children best first (worst first with ``reverse``), as HyperDrive's list of dicts."""
        ranked = self._ranked()
        if discard_no_metric:
            ranked = [rc for rc in ranked if rc[0] is not None]
        if reverse:
            ranked = [rc for rc in ranked if rc[0] is not None][::-1] + [rc for rc in ranked if rc[0] is None]
        rows = [
            {
                "run_id": c.id,
                "hyperparameters": c.get_properties().get("hyperparameters"),
                "best_primary_metric": v,
                "status": c.get_status(),
            }
            for v, c in ranked
        ]
        return rows[:top] if top else rows

    def get_hyperparameters(self) -> dict[str, str]:
        """Each child's parameters as Azure gives them: ``{run_id: '{"--alpha": 0.5}'}`` (JSON text)."""
        return {c.id: c._record.properties.get("hyperparameters", "{}") for c in self.get_children()}

    def get_metrics(
        self, name: str | None = None, recursive: bool = False, run_type: str | None = None, populate: bool = False
    ) -> dict:
        """The children's metrics, keyed by child run id (as Azure's ``HyperDriveRun.get_metrics``)."""
        return {c.id: c.get_metrics(name) for c in self.get_children()}

    def wait_for_completion(
        self, show_output: bool = False, wait_post_processing: bool = False, raise_on_error: bool = True
    ) -> dict:
        """Wait for every child; ``show_output`` draws a tqdm bar: done/total and the best so far."""
        from tqdm.auto import tqdm

        from ..tracking.waiting import RunFailedError

        total = int(self.get_properties().get("max_total_runs", 0)) or None
        bar = tqdm(total=total, desc=self.id, unit="run", disable=not show_output)
        try:
            while True:
                rec = self._store.get_run(self.id)
                kids = self._store.find_runs(parent_id=self.id)
                done = sum(k.display_status in TERMINAL for k in kids)
                bar.update(done - bar.n)
                best = rec.tags.get("best_primary_metric")
                if best is not None:
                    bar.set_postfix_str(f"best {rec.tags.get('primary_metric', '')}={best}", refresh=False)
                if rec.display_status in TERMINAL:
                    break
                time.sleep(0.5)
        except KeyboardInterrupt:
            bar.close()
            print(f"Stopped waiting. Sweep {self.id} goes on; run.cancel() stops it.")
            return self.get_details()
        bar.close()
        details = self.get_details()
        if show_output:
            t = details["tags"]
            print(
                f"Sweep {self.id}: {details['status']}; {t.get('succeeded', 0)} succeeded, {t.get('failed', 0)} failed,"
                f" {t.get('canceled', 0)} canceled. Best: {t.get('best_child_run_id', '-')}"
                f" ({t.get('primary_metric', '')}={t.get('best_primary_metric', '-')})"
            )
        if raise_on_error and details["status"] == FAILED:
            raise RunFailedError(f"sweep {self.id} failed: {(details.get('error') or {}).get('message', '')}", details)
        return details


class SweepDriver(DetachedProcess):
    """The body of ``python -m runwidgets.submit.sweep``."""

    role = "sweep"

    def __init__(self, ws: Workspace, parent_id: str) -> None:
        super().__init__(ws, parent_id)
        self.exp = ws.get_experiment(self.rec.experiment)
        self.parent = HyperDriveRun(self.exp, parent_id, _record=self.rec)
        spec, config = self.rec.details.sweep, ranking.primary_config(self.rec.properties)
        if spec is None or config is None:
            raise ValueError(f"run {parent_id} is not a sweep: it has no sweep plan or primary metric")
        self.spec = spec
        self.metric, self.goal = config
        self.best: tuple[float, str] | None = None
        self.policy = from_dict(spec.policy)
        self.search = None
        if "bayesian" in spec.sampling:
            from .bayesian import BayesianSearch

            self.search = BayesianSearch(spec.sampling["bayesian"], self.goal, spec.sampling.get("seed"))
        self.evaluated: dict[str, int] = {}  # child -> last interval the policy looked at
        self.ended_curves: dict[str, list[float]] = {}  # earlier sweeps' children, for the policy
        self.curves: dict[str, list[float]] = {}  # this sweep's children: primary metric so far
        self.cursor: Cursor | None = None  # new points of the children, read incrementally

    def curve(self, child_id: str) -> list[float]:
        """A child's whole primary metric, one value per report; what is not a number is NaN."""
        chunks = self.store.read_series(child_id, self.metric)
        return _numbers(chunks[0].values.tolist()) if chunks else []

    def read_new_points(self) -> None:
        """The children's new reports of the primary metric since the last poll: an idle poll reads nothing."""
        delta, self.cursor = self.store.read_since([self.parent.id], self.cursor)
        for ch in delta.series:
            if ch.key.name != self.metric or ch.key.kind != SCALAR or ch.key.run_id == self.parent.id:
                continue
            curve = self.curves.setdefault(ch.key.run_id, [])
            if ch.replace:  # a store's sample of a long series: it stands for the whole
                curve[:] = _numbers(ch.values.tolist())
            else:
                del curve[ch.first_index :]
                curve += _numbers(ch.values.tolist())

    def apply_policy(self, running: list[str], ended: set[str]) -> None:
        """Ask the policy about every running child; stop those it rejects, recording why."""
        if self.policy is None or not running:
            return
        curves = {**self.ended_curves, **self.curves}
        stops = self.policy.evaluate(curves, set(running), self.goal, self.evaluated, set(self.ended_curves) | ended)
        for cid, stop in stops.items():
            stop = replace(stop, metric=self.metric)
            if self.store.set_status_if(cid, (QUEUED, STARTING, RUNNING), status=CANCEL_REQUESTED, error=stop.error()):
                self.store.set_tags(cid, {"early_termination": stop.policy})
                self.say(f"{cid}: {stop.message()}")

    def warm_start(self) -> None:
        """Seed the search and the policy with the children of earlier sweeps (``resume_from``)."""
        seeded = 0
        for sweep_id in self.spec.resume_from:
            for rec in self.store.find_runs(parent_id=sweep_id):
                curve = self.curve(rec.run_id)
                params = json.loads(rec.properties.get("hyperparameters") or "{}")
                if self.search is not None:
                    seeded += self.search.seed_with(params, ranking.best_value(curve, self.goal))
                if self.policy is not None and curve:
                    self.ended_curves[rec.run_id] = curve
                    seeded += self.search is None
        if self.spec.resume_from:
            self.say(f"warm start from {len(self.spec.resume_from)} sweep(s): {seeded} earlier children used")
            self.store.set_tags(self.parent.id, {"warm_start_children": str(seeded)})

    def cluster_limit(self, limit: int) -> int:
        """On a cluster, no more children at once than it has worker threads: a child queued behind
        the others would only wait, and a policy or a Bayesian search learns nothing from it."""
        target = self.spec.run_config.target
        if target == "local":
            return limit
        from ..compute.targets import ComputeTarget, DaskCompute

        try:
            cluster = ComputeTarget(self.ws, target)
            threads = cluster.threads() if isinstance(cluster, DaskCompute) else 0
        except Exception as e:
            self.say(f"could not ask {target} for its size ({e}); its scheduler queues the children")
            return limit
        if 0 < threads < limit:
            self.say(f"{target} has {threads} worker thread(s): at most {threads} children at once")
            return threads
        return limit

    def launch(self, params: dict) -> str:
        # Children run the parent's snapshot; their environment variables are already ours.
        config = ScriptRunConfig.from_definition(self.spec.run_config, snapshot_dir(self.ws, self.parent.id))
        extra = as_arguments(params)
        details = Details(supervised=True, definition=config.definition(extra), hyperparameters=params)
        child = Run._start(self.exp, parent=self.parent, kind=SCRIPT_RUN, status=QUEUED, details=details)
        child.add_properties({"hyperparameters": json.dumps(params)})
        snapshot(config.source_directory, snapshot_dir(self.ws, child.id))
        start_supervisor(self.ws, child.id, config)
        self.say(f"started {child.id} with {' '.join(extra)}")
        return child.id

    def note_result(self, child_id: str) -> float | None:
        """Record an ended child's value; it becomes the best so far when it beats it. Returns the value."""
        values = self.store.read_series(child_id, self.metric)
        if not values:
            return None
        v = ranking.best_value(values[0].values, self.goal)
        if v is None:
            return None
        if ranking.is_better(v, self.best[0] if self.best else None, self.goal):
            self.best = (v, child_id)
            self.store.set_tags(
                self.parent.id,
                {"best_child_run_id": child_id, "best_primary_metric": f"{v:.6g}", "primary_metric": self.metric},
            )
        return v

    def record_if_lost(self, rec) -> bool:
        """A child that only looks lost (a slow disk delayed its heartbeat) is still running: count it
        as ended only when its supervisor process is gone too, and record that as its end."""
        watcher = rec.details.dispatcher_pid or rec.details.supervisor_pid  # on a cluster: the local dispatcher
        if not rec.is_lost(timeout=heartbeat_timeout()) or alive(watcher):
            return False
        return self.store.set_status_if(
            rec.run_id, tuple(LIVE), status=FAILED, ended=time.time(), error=rec.display_error
        )

    def run(self) -> int:
        if not self.store.set_status_if(self.parent.id, (QUEUED,), status=RUNNING, started=time.time()):
            self.store.set_status_if(self.parent.id, (CANCEL_REQUESTED,), status=CANCELED, ended=time.time())
            return 0
        self.start_beating()
        self.note_details(driver_pid=os.getpid())
        pending = list(self.spec.parameter_sets)
        total = self.spec.max_total_runs or len(pending)
        limit = self.cluster_limit(self.spec.max_concurrent_runs)
        deadline = time.time() + 60 * self.spec.max_duration_minutes
        running: list[str] = []
        ended: set[str] = set()
        launched = 0
        canceled = False
        self.warm_start()
        how = "Bayesian search (Optuna TPE)" if self.search is not None else "planned parameter sets"
        self.say(f"{total} runs by {how}, at most {limit} at once, ranked by {self.goal} {self.metric}")
        while (not canceled and launched < total) or running:
            status = self.store.get_run(self.parent.id).status
            if not canceled and (status == CANCEL_REQUESTED or time.time() > deadline):
                canceled = True
                why = "cancel requested" if status == CANCEL_REQUESTED else "max_duration_minutes reached"
                self.say(f"{why}: no more children start; running ones are canceled")
                pending = []
                for cid in running:
                    self.store.set_status_if(cid, (QUEUED, RUNNING, "Starting"), status=CANCEL_REQUESTED)
            still = []
            for cid in running:
                rec = self.store.get_run(cid)
                if rec.status in TERMINAL or self.record_if_lost(rec):
                    value = self.note_result(cid)
                    ended.add(cid)
                    if self.search is not None:
                        self.search.tell(cid, value)
                else:
                    still.append(cid)
            running = still
            if not canceled and self.policy is not None:
                self.read_new_points()
                self.apply_policy(running, ended)
            while not canceled and launched < total and len(running) < limit:
                if pending:
                    running.append(self.launch(pending.pop(0)))
                elif self.search is not None:
                    trial, params = self.search.ask()
                    running.append(self.launch(params))
                    self.search.started(running[-1], trial)
                else:
                    total = launched  # a grid smaller than max_total_runs
                    break
                launched += 1
            if launched < total or running:
                time.sleep(POLL_SECONDS)
        kids = self.store.find_runs(parent_id=self.parent.id)
        counts = {s: sum(k.status == s for k in kids) for s in (COMPLETED, FAILED, CANCELED)}
        self.store.set_tags(
            self.parent.id,
            {"succeeded": str(counts[COMPLETED]), "failed": str(counts[FAILED]), "canceled": str(counts[CANCELED])},
        )
        self.stop_beating.set()
        if canceled:
            final, error = CANCELED, None
        elif kids and counts[FAILED] == len(kids):
            final, error = FAILED, {"code": "AllChildrenFailed", "message": f"all {len(kids)} child runs failed"}
        else:
            final, error = COMPLETED, None
        fields = {"status": final, "ended": time.time()}
        if error:
            fields["error"] = error
        self.store.set_status_if(self.parent.id, tuple(LIVE), **fields)
        self.say(f"done: {counts}; sweep is {final}")
        return 0


main = SweepDriver.main


if __name__ == "__main__":
    sys.exit(main())
