"""Sweeps that choose as they go (Bayesian search on Optuna), their time limit, and warm starts."""

import json
import textwrap

import pytest

from runwidgets import ScriptRunConfig
from runwidgets.hyperdrive import (
    BanditPolicy,
    BayesianParameterSampling,
    HyperDriveConfig,
    PrimaryMetricGoal,
    choice,
    loguniform,
    quniform,
    uniform,
)

SCRIPT = """
import argparse, os, time
from runwidgets import Run

p = argparse.ArgumentParser()
p.add_argument("--x", type=float)
p.add_argument("--k", default="a")
p.add_argument("--q", type=float, default=0.0)
p.add_argument("--sleep", type=float, default=0.0)
p.add_argument("--resume-from", default=None)
args = p.parse_args()
run = Run.get_context()
if args.resume_from:
    run.log("resumed_checkpoint", open(os.path.join(args.resume_from, "ckpt.txt")).read())
time.sleep(args.sleep)
score = -((args.x - 0.3) ** 2) + (0.1 if args.k == "b" else 0.0) - 0.01 * args.q
run.log("score", score)
os.makedirs("outputs", exist_ok=True)
open("outputs/ckpt.txt", "w").write(f"x={args.x}")
"""


@pytest.fixture
def src(tmp_path):
    d = tmp_path / "src"
    d.mkdir()
    (d / "objective.py").write_text(textwrap.dedent(SCRIPT))
    return d


def bayes(src, **kwargs):
    space = {"--x": uniform(0, 1), "--k": choice("a", "b"), "--q": quniform(0, 10, 2)}
    return HyperDriveConfig(
        run_config=ScriptRunConfig(str(src), "objective.py"),
        hyperparameter_sampling=BayesianParameterSampling(space, seed=7),
        primary_metric_name="score",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        **{"max_total_runs": 8, "max_concurrent_runs": 2, **kwargs},
    )


def objective(p):
    return -((float(p["--x"]) - 0.3) ** 2) + (0.1 if p["--k"] == "b" else 0.0) - 0.01 * float(p["--q"])


def test_bayesian_sweep_of_8_children(exp, src):
    sweep = exp.submit(bayes(src))
    sweep.wait_for_completion()
    kids = sweep.get_children()
    assert len(kids) == 8 and all(k.get_status() == "Completed" for k in kids)
    params = {rid: json.loads(text) for rid, text in sweep.get_hyperparameters().items()}
    for p in params.values():
        assert 0 <= p["--x"] <= 1 and p["--k"] in ("a", "b") and p["--q"] % 2 == 0 and 0 <= p["--q"] <= 10
    values = {rid: m["score"] for rid, m in sweep.get_metrics().items()}
    assert values == {rid: pytest.approx(objective(p)) for rid, p in params.items()}  # what each child was given
    assert sweep.get_best_run_by_primary_metric().id == max(values, key=values.get)
    log = sweep.get_details_with_logs()["logFiles"]["azureml-logs/60_control_log.txt"]
    assert "8 runs by Bayesian search (Optuna TPE)" in log


def test_bayesian_refuses_a_policy_and_other_distributions(src):
    with pytest.raises(ValueError, match="early-termination policy"):
        bayes(src, policy=BanditPolicy(slack_factor=0.1))
    with pytest.raises(ValueError, match="choice, uniform and quniform only"):
        BayesianParameterSampling({"--lr": loguniform(-6, -1)})
    with pytest.raises(ValueError, match="needs max_total_runs"):
        bayes(src, max_total_runs=None)


def test_max_duration_minutes_ends_a_sweep(exp, src):
    from runwidgets.hyperdrive import GridParameterSampling

    config = HyperDriveConfig(
        run_config=ScriptRunConfig(str(src), "objective.py", arguments=["--sleep", "120"]),
        hyperparameter_sampling=GridParameterSampling({"--x": choice(0.1, 0.2, 0.3, 0.4)}),
        primary_metric_name="score",
        primary_metric_goal="MAXIMIZE",
        max_concurrent_runs=2,
        max_duration_minutes=0.05,  # 3 s against children that would take 2 minutes each
    )
    sweep = exp.submit(config)
    details = sweep.wait_for_completion(raise_on_error=False)
    assert details["status"] == "Canceled"
    kids = sweep.get_children()
    assert len(kids) == 2 and all(k.get_status() == "Canceled" for k in kids)  # no more started after the limit
    assert (
        "max_duration_minutes reached" in sweep.get_details_with_logs()["logFiles"]["azureml-logs/60_control_log.txt"]
    )


def test_resume_from_seeds_a_second_sweep_and_resume_child_runs_passes_checkpoints(exp, src):
    first = exp.submit(bayes(src, max_total_runs=4))
    first.wait_for_completion()
    second = exp.submit(bayes(src, max_total_runs=3, resume_from=[first]))
    second.wait_for_completion()
    assert second.get_tags()["warm_start_children"] == "4"  # every child of the first sweep seeded the search
    assert len(second.get_children()) == 3

    policy = HyperDriveConfig(
        run_config=ScriptRunConfig(str(src), "objective.py"),
        hyperparameter_sampling=BayesianParameterSampling({"--x": uniform(0, 1)}),
        primary_metric_name="score",
        primary_metric_goal="MAXIMIZE",
        max_total_runs=2,
        resume_from=[first.id],
        resume_child_runs=[first.get_children()[0]],
    )
    third = exp.submit(policy)
    third.wait_for_completion()
    kids = third.get_children()
    resumed = [k for k in kids if "--resume-from" in json.loads(k.get_properties()["hyperparameters"])]
    assert len(kids) == 2 and len(resumed) == 1
    x = json.loads(first.get_children()[0].get_properties()["hyperparameters"])["--x"]
    assert resumed[0].get_metrics()["resumed_checkpoint"] == f"x={x}"  # it read the earlier child's outputs/
