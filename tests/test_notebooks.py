"""The example notebooks, executed on a real kernel."""

from pathlib import Path

from nbtools import execute, make_notebook, outputs_text

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def test_logging_api_tour(tmp_path):
    nb = execute(NOTEBOOKS / "logging-api.ipynb", cwd=tmp_path, env={"MPLBACKEND": "Agg"})
    text = outputs_text(nb)
    assert "Sigmoid" in text and "Y over X" in text
    assert (tmp_path / ".runwidgets" / "runwidgets.db").exists()


LIVE_WRITER = """
import sys, time
from runwidgets import Workspace, Experiment
run = Experiment(Workspace(sys.argv[1]), "live").start_logging()
print(run.id, flush=True)
for i in range(600):
    run.log("x", float(i))
    time.sleep(0.05)
"""


def test_view_grows_while_a_busy_cell_runs(tmp_path):
    import os
    import subprocess
    import sys

    from nbtools import make_notebook

    ws = tmp_path / "ws"
    env = {**os.environ, "RUNWIDGETS_FLUSH_INTERVAL": "0.2"}
    writer = subprocess.Popen([sys.executable, "-c", LIVE_WRITER, str(ws)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        run_id = writer.stdout.readline().strip()
        nb = make_notebook(
            [
                "import os, time\nfrom runwidgets import Workspace, Experiment, Run, RunDetails\n"
                f"run = Run(Experiment(Workspace({str(ws)!r}), 'live'), {run_id!r})\n"
                "time.sleep(1.0)\n"
                "details = RunDetails(run, refresh_interval=1)\ndetails.show()",
                # a busy cell: the kernel's event loop is blocked the whole time
                "sizes = []\nfor _ in range(10):\n    time.sleep(0.5)\n    sizes.append(len(details.chart('x').lines.x))\n"
                "print('sizes', sizes)\nassert sizes[-1] > sizes[0] + 20, sizes\n"
                "assert details.polling",
                "details.close()\nassert not details.polling",
            ]
        )
        out = execute(nb, cwd=tmp_path)
        assert "sizes" in outputs_text(out)
        widget_outputs = [
            o for o in out.cells[0].outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
        ]
        assert widget_outputs
    finally:
        writer.kill()
        writer.wait()


def test_example_notebooks(tmp_path):
    env = {"QUICKSTART_EPOCHS": "5", "SWEEP_EPOCHS": "3", "MPLBACKEND": "Agg"}
    for name in ("quickstart", "submit-and-sweep", "dashboard"):
        nb = execute(NOTEBOOKS / f"{name}.ipynb", cwd=tmp_path, env=env, timeout=300)
        errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, (name, errors)
    from runwidgets import Workspace

    ws = Workspace(tmp_path / ".runwidgets")
    assert {"quickstart", "digits"} <= set(ws.store.list_experiments())


def test_readme_first_hour_runs_as_written(tmp_path):
    """The README's first-hour cells, executed on a real kernel exactly as printed there."""
    import re

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme[readme.index("## Your first hour") :]
    section = section[: section.index("\n## ", 5)]
    cells = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(cells) == 2
    nb = make_notebook([*cells, "print(run.get_status(), len(run.get_metrics()['loss']), run_id == run.id)"])
    out = execute(nb, cwd=tmp_path)
    assert "Completed 60 True" in outputs_text(out)
    assert (tmp_path / ".runwidgets" / "runwidgets.db").is_file()
