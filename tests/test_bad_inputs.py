"""Every bad call raises at the call with a message saying what to do; earlier data survives."""

import math

import numpy as np
import pytest

from runwidgets import Experiment


def gen():
    yield 1


class Opaque:
    pass


BAD = [
    # (description, call, exception, message fragment)
    ("list to log", lambda r: r.log("m", [1, 2]), TypeError, "log_list"),
    ("range to log", lambda r: r.log("m", range(3)), TypeError, "log_list"),
    ("generator to log", lambda r: r.log("m", gen()), TypeError, "log_list"),
    ("dict to log", lambda r: r.log("m", {"a": 1}), TypeError, "log_table"),
    ("array to log", lambda r: r.log("m", np.arange(3)), TypeError, "log_list"),
    ("None to log", lambda r: r.log("m", None), TypeError, "no value"),
    ("object to log", lambda r: r.log("m", Opaque()), TypeError, "cannot log a Opaque"),
    ("int name", lambda r: r.log(3, 1.0), TypeError, "metric name must be a str"),
    ("unhashable name", lambda r: r.log(["a"], 1.0), TypeError, "metric name must be a str"),
    ("empty name", lambda r: r.log("", 1.0), ValueError, "must not be empty"),
    ("long name", lambda r: r.log("x" * 300, 1.0), ValueError, "at most 250"),
    ("float step", lambda r: r.log("m", 1.0, step=1.5), TypeError, "whole number"),
    ("bool step", lambda r: r.log("m", 1.0, step=True), TypeError, "not a bool"),
    ("huge string", lambda r: r.log("s", "x" * 5000), ValueError, "upload_file"),
    ("kind change", lambda r: r.log_list("good", [1, 2]), ValueError, "was logged with run.log"),
    ("log_list of a scalar", lambda r: r.log_list("l", 5), TypeError, "iterable"),
    ("log_list of a string", lambda r: r.log_list("l", "abc"), TypeError, "iterable"),
    ("log_list nested", lambda r: r.log_list("l", [1, [2]]), TypeError, "item 1"),
    ("ragged table", lambda r: r.log_table("t", {"a": [1, 2], "b": [1]}), ValueError, "different lengths"),
    ("table not a dict", lambda r: r.log_table("t", [1, 2]), TypeError, "dict of columns"),
    ("empty table", lambda r: r.log_table("t", {}), ValueError, "no columns"),
    ("row without columns", lambda r: r.log_row("row"), ValueError, "at least one column"),
    ("row with a list cell", lambda r: r.log_row("row", x=[1]), TypeError, "log_row('row', x=...)"),
    ("row with new columns", lambda r: r.log_row("tab", z=1), ValueError, "same columns"),
    ("image with both", lambda r: r.log_image("i", path="a.png", plot=object()), ValueError, "exactly one"),
    ("image with neither", lambda r: r.log_image("i"), ValueError, "exactly one"),
    ("image not a figure", lambda r: r.log_image("i", plot=42), TypeError, "matplotlib"),
    ("image file missing", lambda r: r.log_image("i", path="/nonexistent.png"), FileNotFoundError, "no file"),
    ("upload escaping ..", lambda r: r.upload_file("../evil.txt", __file__), ValueError, "leaves the run"),
    ("upload absolute", lambda r: r.upload_file("/etc/evil", __file__), ValueError, "absolute"),
    ("upload missing source", lambda r: r.upload_file("a.txt", "/nonexistent"), FileNotFoundError, "no file"),
    ("download escaping", lambda r: r.download_file("../../x"), ValueError, "leaves the run"),
    ("property change", lambda r: r.add_properties({"p": "other"}), ValueError, "cannot change"),
    ("properties not a dict", lambda r: r.add_properties(["p"]), TypeError, "needs a dict"),
    ("tag with a list value", lambda r: r.tag("t", [1]), TypeError, "tag 't'"),
    ("description not a str", lambda r: r.log("d", 1.0, description=3), TypeError, "description"),
]


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    from runwidgets import Workspace

    ws = Workspace(tmp_path_factory.mktemp("bad") / "ws")
    run = Experiment(ws, "bad").start_logging()
    for i in range(10):
        run.log("good", float(i))
    run.log_row("tab", x=1, y=2)
    run.add_properties({"p": "v"})
    run.flush()
    return run


@pytest.mark.parametrize("what,call,exc,fragment", BAD, ids=[b[0] for b in BAD])
def test_bad_input_raises_helpfully(seeded, what, call, exc, fragment):
    before = len(seeded._queues.get("good") or ())
    with pytest.raises(exc) as info:
        call(seeded)
    assert fragment in str(info.value), str(info.value)
    assert len(seeded._queues.get("good") or ()) == before  # nothing was buffered


def test_earlier_data_intact_after_bad_calls(seeded):
    seeded.log("good", math.pi)
    m = seeded.get_metrics()
    assert m["good"] == [float(i) for i in range(10)] + [math.pi]
    assert m["tab"] == {"x": [1], "y": [2]}
    assert seeded.get_properties() == {"p": "v"}
    assert len(BAD) >= 15


def test_bad_experiment_names(ws):
    for name in ["", "has space", "-lead", "a/b", 5]:
        with pytest.raises(ValueError, match="experiment name"):
            Experiment(ws, name)
    with pytest.raises(TypeError, match="Workspace"):
        Experiment("not a workspace", "x")
