"""Early-termination policies: their arithmetic on known curves, and real sweeps they stop."""

import math
import textwrap

import pytest

from runwidgets.hyperdrive import (
    BanditPolicy,
    GridParameterSampling,
    HyperDriveConfig,
    MedianStoppingPolicy,
    NoTerminationPolicy,
    PrimaryMetricGoal,
    TruncationSelectionPolicy,
    choice,
)
from runwidgets.submit import policy as pol

NAN = math.nan


def decide(policy, curves, goal="MAXIMIZE", running=None, finished=()):
    return policy.evaluate(curves, set(running or curves), goal, {}, set(finished))


def test_bandit_slack_factor_and_amount_both_goals():
    curves = {"best": [0.5, 0.8], "close": [0.46, 0.75], "far": [0.2, 0.3]}
    stops = decide(BanditPolicy(slack_factor=0.1), curves)
    assert set(stops) == {"far"}  # at interval 1 the cutoff is 0.5 / 1.1 = 0.4545
    assert stops["far"].interval == 1 and stops["far"].cutoff == pytest.approx(0.5 / 1.1)
    assert "BanditPolicy stopped the run at interval 1" in stops["far"].message()
    curves = {"best": [0.5, 0.8], "close": [0.46, 0.75], "far": [0.2, 0.3]}
    assert set(decide(BanditPolicy(slack_amount=0.05), curves)) == {"far"}
    assert set(decide(BanditPolicy(slack_amount=0.6), curves)) == set()  # 0.3 is within 0.6 of 0.8
    losses = {"best": [1.0, 0.5], "close": [1.05, 0.52], "far": [3.0, 2.0]}  # minimizing mirrors
    stops = decide(BanditPolicy(slack_factor=0.1), losses, goal="MINIMIZE")
    assert set(stops) == {"far"} and stops["far"].cutoff == pytest.approx(1.1)
    assert set(decide(BanditPolicy(slack_amount=1.5), losses, goal="MINIMIZE")) == {"far"}  # 2.0 > 0.5 + 1.5 at 2


def test_nan_counts_as_the_worst_value():
    curves = {"best": [0.5, 0.6], "nan": [NAN, NAN]}
    assert decide(BanditPolicy(slack_factor=10.0), curves)["nan"].interval == 1
    assert set(decide(BanditPolicy(slack_factor=0.1), {"a": [NAN], "b": [NAN]})) == set()  # no number to compare
    losses = {"best": [1.0], "nan": [NAN], "c": [1.2]}
    assert set(decide(TruncationSelectionPolicy(34), losses, goal="MINIMIZE")) == {"nan"}
    med = decide(MedianStoppingPolicy(delay_evaluation=1), {"a": [0.9, 0.9], "b": [0.8, 0.8], "n": [0.9, NAN]})
    assert set(med) == {"b"}  # n reported NaN at 2, but its best (0.9) is no worse than the median (0.8)


def test_evaluation_interval_and_delay():
    curves = {"best": [0.9] * 6, "bad": [0.1] * 6}
    assert decide(BanditPolicy(slack_factor=0.1, delay_evaluation=3), curves)["bad"].interval == 3
    assert decide(BanditPolicy(slack_factor=0.1, evaluation_interval=2), curves)["bad"].interval == 2
    assert decide(BanditPolicy(slack_factor=0.1, evaluation_interval=4, delay_evaluation=5), curves) == {}
    done = {}
    BanditPolicy(slack_factor=0.1).evaluate({"best": [0.9], "bad": [0.95]}, {"bad"}, "MAXIMIZE", done)
    assert done == {"bad": 1}


def test_a_waiting_child_is_judged_again_when_others_reach_its_interval():
    policy, done = MedianStoppingPolicy(delay_evaluation=2), {}
    alone = {"bad": [0.1, 0.1], "best": [0.9]}  # best has not reached interval 2 yet
    assert policy.evaluate(alone, {"bad", "best"}, "MAXIMIZE", done) == {}
    later = {"bad": [0.1, 0.1], "best": [0.9, 0.95], "mid": [0.5, 0.6]}  # bad reported nothing new meanwhile
    assert set(policy.evaluate(later, {"bad", "best", "mid"}, "MAXIMIZE", done)) == {"bad"}


def test_median_stopping():
    curves = {"a": [0.9, 0.9, 0.9], "b": [0.7, 0.7, 0.7], "c": [0.2, 0.3, 0.3]}
    stops = decide(MedianStoppingPolicy(delay_evaluation=1), curves)
    assert set(stops) == {"c"} and stops["c"].cutoff == pytest.approx(0.7)
    assert decide(MedianStoppingPolicy(), curves) == {}  # Azure's default delay: 5 intervals


def test_truncation_selection():
    curves = {"a": [0.9], "b": [0.8], "c": [0.7], "d": [0.1]}
    assert set(decide(TruncationSelectionPolicy(25), curves)) == {"d"}
    assert set(decide(TruncationSelectionPolicy(50), curves)) == {"c", "d"}
    running, finished = {"c", "d"}, {"a", "b"}
    assert set(decide(TruncationSelectionPolicy(50), curves, running=running, finished=finished)) == {"c", "d"}
    kept = decide(TruncationSelectionPolicy(50, exclude_finished_jobs=True), curves, running=running, finished=finished)
    assert set(kept) == {"d"}  # ranked among c and d only: the worst half is d
    assert decide(NoTerminationPolicy(), curves) == {}


def test_bad_policies_are_refused():
    with pytest.raises(ValueError, match="exactly one"):
        BanditPolicy()
    with pytest.raises(ValueError, match="exactly one"):
        BanditPolicy(slack_factor=0.1, slack_amount=0.1)
    with pytest.raises(ValueError, match="slack_factor"):
        BanditPolicy(slack_factor=-1)
    with pytest.raises(ValueError, match="evaluation_interval"):
        MedianStoppingPolicy(evaluation_interval=0)
    with pytest.raises(ValueError, match="truncation_percentage"):
        TruncationSelectionPolicy(100)
    assert pol.from_dict(BanditPolicy(slack_amount=0.2, delay_evaluation=2).to_dict()).slack_amount == 0.2


# -- real sweeps -------------------------------------------------------------------------------------------
CHILD = """
import argparse, os, time
from runwidgets import Run

p = argparse.ArgumentParser()
p.add_argument("--curve")
args = p.parse_args()
curves = {"best": [0.5 + 0.04 * i for i in range(10)], "mid": [0.45 + 0.03 * i for i in range(10)],
          "bad": [0.1] * 10, "nan": [float("nan")] * 10}
run = Run.get_context()
for epoch, value in enumerate(curves[args.curve]):
    run.log("accuracy", value)
    run.flush()
    if args.curve != "best" and epoch == 1:  # the others wait here, after two reports, until released
        while not os.path.exists(os.environ["RELEASE"]):
            time.sleep(0.1)
"""


@pytest.mark.parametrize(
    "policy, stopped",
    [
        (BanditPolicy(slack_factor=0.1), {"bad", "nan"}),
        (MedianStoppingPolicy(delay_evaluation=2), {"bad", "nan"}),
        (TruncationSelectionPolicy(50, delay_evaluation=2), {"bad", "nan"}),
    ],
    ids=["bandit", "median", "truncation"],
)
def test_a_policy_stops_the_runs_it_must(exp, tmp_path, policy, stopped):
    from runwidgets import ScriptRunConfig

    src = tmp_path / "src"
    src.mkdir()
    (src / "child.py").write_text(textwrap.dedent(CHILD))
    release = tmp_path / "release"
    config = HyperDriveConfig(
        run_config=ScriptRunConfig(str(src), "child.py", environment_variables={"RELEASE": str(release)}),
        hyperparameter_sampling=GridParameterSampling({"--curve": choice("best", "mid", "bad", "nan")}),
        primary_metric_name="accuracy",
        primary_metric_goal=PrimaryMetricGoal.MAXIMIZE,
        max_concurrent_runs=4,
        policy=policy,
    )
    sweep = exp.submit(config)
    try:
        from waiting import wait_until

        def settled():
            kids = sweep.get_children()
            by = {json_curve(k): k.get_status() for k in kids}
            return len(kids) == 4 and by.get("best") == "Completed" and all(by.get(c) == "Canceled" for c in stopped)

        assert wait_until(settled, timeout=90)
    finally:
        release.touch()  # the runs the policy kept go on to their end
    sweep.wait_for_completion()
    kids = {json_curve(k): k for k in sweep.get_children()}
    epochs = {
        c: len(k.get_metrics().get("accuracy", [])) if c != "nan" else len(k.get_metrics_frame())
        for c, k in kids.items()
    }
    assert epochs["best"] == 10 and kids["best"].get_status() == "Completed"  # the best never stops
    for c in stopped:
        err = kids[c].get_details()["error"]
        assert err["code"] == "EarlyTermination" and policy.name in err["message"]
        assert "interval" in err["message"] and "cutoff" in err["message"]
        assert epochs[c] < 10 and kids[c].get_tags()["early_termination"] == policy.name
    assert sum(epochs.values()) < 40  # fewer epochs than without the policy
    assert sweep.get_best_run_by_primary_metric().id == kids["best"].id
    from runwidgets import RunDetails

    view = RunDetails(sweep)
    try:
        _ = view.widget
        rows = {r["id"]: r for r in view.panels.children["rows"]}
        assert view.panels.children["best"] == kids["best"].id
        for c in stopped:  # the table says why each stopped ("mid" may be stopped later too: it trails the best)
            assert policy.name in rows[kids[c].id]["stopped"]
        assert rows[kids["best"].id]["stopped"] == ""
    finally:
        view.close()


def json_curve(run):
    import json

    return json.loads(run.get_properties()["hyperparameters"])["--curve"]
