"""The workspace a user names is the one used; read-only commands never create one; output is safe."""

from pathlib import Path

import pytest
from clitools import cli
from nbtools import execute, make_notebook

from runwidgets import Experiment, Workspace
from runwidgets.store.files import PYTHON_LOG
from runwidgets.widget import RunDetails

ROOT = Path(__file__).resolve().parents[1]


def test_read_only_commands_never_create_a_workspace(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    for args in (["ls"], ["show", "abc"], ["logs", "abc"]):
        p = cli(*args, cwd=empty)
        assert p.returncode == 2 and "-w DIR" in p.stderr and "Traceback" not in p.stderr, p.stderr
    assert list(empty.iterdir()) == []  # no .runwidgets made
    typo = tmp_path / "typo" / "path"
    p = cli("-w", str(typo), "ls")
    assert p.returncode == 2 and "does not exist" in p.stderr and not typo.exists()
    readme = tmp_path / "README.md"
    readme.write_text("# notes\n")
    p = cli("-w", str(readme), "ls")
    assert p.returncode == 2 and "Traceback" not in p.stderr and "not a workspace" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_a_named_workspace_beats_the_one_found_walking_up(tmp_path, monkeypatch):
    here = tmp_path / "clone"
    (here / "pkg").mkdir(parents=True)
    other = Workspace(here / ".runwidgets")
    Experiment(other, "other").start_logging().complete()
    mine = Workspace(tmp_path / "mine")
    Experiment(mine, "mine").start_logging().complete()
    p = cli("ls", cwd=here / "pkg", env={"RUNWIDGETS_WORKSPACE": str(mine.path)})
    assert "experiment mine" in p.stdout and "other" not in p.stdout
    p = cli("-w", str(mine.path), "ls", cwd=here / "pkg")
    assert "experiment mine" in p.stdout and "other" not in p.stdout
    monkeypatch.chdir(here / "pkg")
    monkeypatch.setenv("RUNWIDGETS_WORKSPACE", str(mine.path))
    assert Workspace.from_config().path == mine.path


def test_demo_on_a_workspace_with_runs_keeps_them(tmp_path):
    from tests.browser.harness import free_port

    ws = Workspace(tmp_path / "precious")
    run = Experiment(ws, "a-year-of-work").start_logging()
    for i in range(50):
        run.log("loss", 1 / (i + 1))
    run.complete()
    p = cli("-w", str(ws.path), "demo", "--until-done", "--epochs", "2", "--pause", "0", "--port", str(free_port()))
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    assert "its runs are kept" in p.stdout and f"runwidgets -w {ws.path} ls" in p.stdout
    listed = cli("-w", str(ws.path), "ls")
    assert "a-year-of-work" in listed.stdout and "digits-sgd" in listed.stdout
    assert len(Workspace(ws.path).store.read_series(run.id)[0].values) == 50
    assert not (ws.path / "made-by-runwidgets-demo").exists()
    assert not (ws.path / "config.json").exists()  # the user's settings are not rewritten


def test_terminal_output_is_stripped_of_escape_sequences(ws):
    run = Experiment(ws, "e").start_logging(display_name="name \x1b]0;pwned\x07 \x1b[2J")
    run.tag("t", "\x1b[31mred\x1b[0m\x9b2J")
    run.log("m\x1b[1A", 1.0)
    run.fail("boom \x1b]52;c;ZXZpbA==\x07 done")
    log = Path(run._store.log_path(run.id, PYTHON_LOG))
    log.write_text("line one \x1b[2J\x1b]0;title\x07 end\n\ttabbed\n")
    for args in (["show", run.id], ["ls"], ["logs", run.id]):
        p = cli("-w", str(ws.path), *args)
        assert p.returncode == 0, p.stderr
        assert "\x1b" not in p.stdout and "\x9b" not in p.stdout and "\x07" not in p.stdout, args
    assert "line one  end\n\ttabbed" in p.stdout


def test_logs_shows_the_right_log_for_every_kind_of_run(ws, tmp_path):
    from runwidgets.hyperdrive import GridParameterSampling, HyperDriveConfig, choice
    from runwidgets.submit import ScriptRunConfig

    exp = Experiment(ws, "kinds")
    bare = exp.start_logging()
    bare.complete()
    p = cli("-w", str(ws.path), "logs", bare.id)
    assert p.returncode == 1 and "no log files" in p.stderr and "get_logging_handler" in p.stderr
    noted = exp.start_logging()
    import logging

    logger = logging.getLogger("test-logs-kinds")
    logger.addHandler(noted.get_logging_handler())
    logger.warning("a note from the notebook")
    noted.complete()
    p = cli("-w", str(ws.path), "logs", noted.id)
    assert p.returncode == 0 and "a note from the notebook" in p.stdout
    src = tmp_path / "src"
    src.mkdir()
    (src / "t.py").write_text(
        "import sys\nfrom runwidgets import Run\nRun.get_context().log('a', 1.0)\nprint('child says hi')\n"
    )
    sweep = exp.submit(
        HyperDriveConfig(
            run_config=ScriptRunConfig(str(src), "t.py"),
            hyperparameter_sampling=GridParameterSampling({"--x": choice(1, 2)}),
            primary_metric_name="a",
            primary_metric_goal="MAXIMIZE",
        )
    )
    sweep.wait_for_completion()
    p = cli("-w", str(ws.path), "logs", sweep.id)
    assert p.returncode == 0 and "2 runs by planned parameter sets, at most" in p.stdout, (
        p.stdout + p.stderr
    )  # the sweep driver's log
    child = sweep.get_children()[0]
    p = cli("-w", str(ws.path), "logs", child.id)
    assert "child says hi" in p.stdout
    p = cli("-w", str(ws.path), "logs", noted.id, "--file", "nope.txt")
    assert p.returncode == 1 and "python_log.txt" in p.stderr


def test_only_http_links_anywhere(ws, monkeypatch):
    run = Experiment(ws, "links").start_logging()
    for url in ("javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,x", "file:///etc/passwd"):
        with pytest.raises(ValueError):
            ws.write_config(portal_url=url)
        monkeypatch.setenv("RUNWIDGETS_PORTAL_URL", url)
        assert run.get_portal_url().startswith("http://127.0.0.1:8866/")
        assert "javascript" not in run._repr_html_().lower() and "data:" not in run._repr_html_()
        view = RunDetails(run)
        bundle = view._repr_mimebundle_()
        assert "javascript" not in bundle["text/html"].lower()
        assert view.header.run["portal_url"].startswith("http://")
        view.close()
    run.complete()


def test_the_workspace_notice_is_not_on_stderr_in_a_notebook(tmp_path):
    nb = make_notebook(["from runwidgets import Workspace\nws = Workspace.from_config()"])
    out = execute(nb, cwd=tmp_path, env={"RUNWIDGETS_WORKSPACE": str(tmp_path / "nbws")})
    streams = [o for o in out.cells[0].outputs if o.get("output_type") == "stream"]
    assert streams and all(o["name"] == "stdout" for o in streams), streams
    assert "workspace" in streams[0]["text"]
