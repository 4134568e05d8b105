"""`runwidgets demo | dashboard | ls | show RUN | logs RUN`: the project from a terminal."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from ._terminal import cell, plain
from .formatting import fmt_value
from .store.errors import WorkspaceError
from .store.files import is_log
from .tracking import Workspace


def _workspace(args, create: bool = False) -> Workspace:
    """The workspace named with -w, else found as Workspace.from_config() does; read-only commands never create one."""
    return Workspace.from_config(args.workspace, create=create)


def _when(t: float | None) -> str:
    return datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M:%S") if t else "-"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def _fmt_value(v) -> str:
    if isinstance(v, dict):
        return "table " + ", ".join(f"{k}[{len(c)}]" for k, c in v.items())
    if isinstance(v, list):
        return f"{fmt_value(v[-1])}  (last of {len(v)})" if v else "[]"
    return fmt_value(v)


def _table(rows: list[list], head: list[str]) -> str:
    """Aligned columns; each cell is text from a run, so made safe for the terminal first."""
    rows = [[cell(c) for c in r] for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    out = ["  ".join(h.ljust(w) for h, w in zip(head, widths))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(out)


def cmd_ls(args) -> int:
    ws = _workspace(args)
    if args.compute:
        return _ls_compute(ws)
    store = ws.store
    exps = [args.experiment] if args.experiment else store.list_experiments()
    if not exps:
        print(f"no experiments in {ws.address}")
        return 0
    for name in exps:
        recs = store.find_runs(experiment=name, parent_id=None)
        print(f"\nexperiment {cell(name)}: {len(recs)} run(s)")
        rows = [
            [r.run_id, r.name if r.name != r.run_id else "", r.display_status, _when(r.started), _duration(r.duration)]
            for r in reversed(recs[-args.limit :])
        ]
        if rows:
            print(_table(rows, ["run", "name", "status", "started", "duration"]))
    return 0


def _ls_compute(ws) -> int:
    """One line per compute target: where it is, its size now, and its live runs."""
    from .dashboard.compute_page import gather

    rows = []
    for t in gather(ws):
        kind = "local" if t.name == "local" else "dask"
        state = "unreachable" if t.problem else "ok"
        workers = str(len(t.cluster.workers)) if t.cluster else ("–" if kind == "dask" else "")
        threads = str(t.cluster.threads) if t.cluster else ("–" if kind == "dask" else "")
        running = sum(r.status != "Queued" for r in t.runs)
        rows.append([t.name, kind, t.address, state, workers, threads, running, len(t.runs) - running])
    print(_table(rows, ["target", "type", "address", "state", "workers", "threads", "running", "queued"]))
    return 0


def cmd_show(args) -> int:
    ws = _workspace(args)
    run = ws.get_run(args.run)
    rec = run._record
    print(f"run        {rec.run_id}")
    if rec.name != rec.run_id:
        print(f"name       {cell(rec.name)}")
    print(f"experiment {cell(rec.experiment)}")
    print(f"status     {rec.display_status}")
    print(f"started    {_when(rec.started)}   duration {_duration(rec.duration)}")
    if rec.parent_id:
        print(f"parent     {rec.parent_id}")
    for label, d in (("tags", rec.tags), ("properties", rec.properties)):
        if d:
            print(f"{label:<10} " + cell(", ".join(f"{k}={v}" for k, v in d.items())))
    err = rec.display_error
    if err:
        print(f"error      {cell(err.get('message', ''))}")
    metrics = run.get_metrics()
    if metrics:
        print("\nmetrics")
        print(_table([[k, _fmt_value(v)] for k, v in metrics.items()], ["name", "latest"]))
    kids = ws.store.find_runs(parent_id=run.id)
    if kids:
        print(f"\n{len(kids)} child run(s)")
        rows = [[k.run_id, k.display_status, _duration(k.duration)] for k in kids]
        print(_table(rows, ["run", "status", "duration"]))
    print(f"\n{cell(run.get_portal_url())}")
    return 0


def _default_log(rec, logs: list[str]) -> str | None:
    """The log a person means: a script's output, else the sweep driver's or the run's own Python log."""
    from .store.files import DRIVER_LOG, PYTHON_LOG, SUPERVISOR_LOG

    if DRIVER_LOG in logs or rec.details.definition:  # a submitted script: its output, even before it starts
        return DRIVER_LOG
    for name in (SUPERVISOR_LOG, PYTHON_LOG):
        if name in logs:
            return name
    return logs[0] if logs else None


def cmd_logs(args) -> int:
    from .tracking.waiting import follow

    ws = _workspace(args)
    run = ws.get_run(args.run)
    rec = run._record
    logs = sorted(n for n in run.get_file_names() if is_log(n))
    name = args.file or _default_log(rec, logs)
    if args.file and name not in logs:  # a log named without its folder: "70_driver_log.txt"
        name = next((n for n in logs if n.rsplit("/", 1)[-1] == name), name)
    if name is None:
        kids = ws.store.find_runs(parent_id=run.id)
        hint = f"; its {len(kids)} child run(s) may have some: runwidgets logs CHILD_ID" if kids else ""
        print(
            f"run {run.id} has no log files (an interactive run keeps a log only through"
            f" run.get_logging_handler()){hint}",
            file=sys.stderr,
        )
        return 1
    if args.file and name not in logs and not rec.details.definition:
        print(f"run {run.id} has no log {name!r}; its logs: {', '.join(logs) or 'none'}", file=sys.stderr)
        return 1
    for other in [n for n in logs if n != name]:
        print(f"(also: runwidgets logs {run.id} --file {other})", file=sys.stderr)
    status = follow(run, _Plain(sys.stdout), name, until_done=args.follow)
    if args.follow:
        print(f"[run {run.id} is {status}]", file=sys.stderr)
    return 0


class _Plain:
    """A stream that drops terminal escape sequences from what a run wrote."""

    def __init__(self, out) -> None:
        self.out = out

    def write(self, text: str) -> int:
        return self.out.write(plain(text))

    def flush(self) -> None:
        self.out.flush()


def cmd_demo(args) -> int:
    from .dashboard.demo import run_demo

    return run_demo(args)


def cmd_dashboard(args) -> int:
    from .dashboard.server import serve

    return serve(args)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="runwidgets", description="Watch machine-learning runs.")
    ws_help = "workspace folder (default: found like Workspace.from_config())"
    ap.add_argument("--workspace", "-w", help=ws_help)
    common = argparse.ArgumentParser(add_help=False)  # --workspace also after the command
    common.add_argument("--workspace", "-w", default=argparse.SUPPRESS, help=ws_help)
    serving = argparse.ArgumentParser(add_help=False)  # what the demo and the dashboard both serve with
    serving.add_argument("--port", type=int, default=8866)
    serving.add_argument(
        "--theme", choices=("light", "dark"), default="light", help="JupyterLab's colours (a page's ?theme= overrides)"
    )
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("ls", parents=[common], help="experiments and their runs")
    p.add_argument("experiment", nargs="?")
    p.add_argument("--limit", type=int, default=20, help="runs per experiment (newest)")
    p.add_argument("--compute", action="store_true", help="the compute targets instead: one line each")
    p.set_defaults(fn=cmd_ls)
    p = sub.add_parser("show", parents=[common], help="a run's summary and latest metric values")
    p.add_argument("run")
    p.set_defaults(fn=cmd_show)
    p = sub.add_parser("logs", parents=[common], help="a run's log; --follow streams it until the run ends")
    p.add_argument("run")
    p.add_argument("--follow", "-f", action="store_true", help="stream new lines until the run ends")
    p.add_argument("--file", help="which log file (default: a script's output, else the sweep's or the run's own log)")
    p.set_defaults(fn=cmd_logs)
    p = sub.add_parser("demo", parents=[common, serving], help="a live sweep, watched in the dashboard")
    p.add_argument("--epochs", type=int, default=30, help="epochs per child run")
    p.add_argument("--pause", type=float, default=0.3, help="seconds between epochs")
    p.add_argument("--until-done", action="store_true", help="stop once the sweep is over (for CI)")
    p.add_argument("--open", action="store_true", help="open the sweep's page in a browser")
    p.set_defaults(fn=cmd_demo)
    p = sub.add_parser("dashboard", parents=[common, serving], help="serve the runs' portal (Voila) on 127.0.0.1")
    p.add_argument(
        "--ip", default="127.0.0.1", help="address to bind (default 127.0.0.1 only; beyond it a token is required)"
    )
    p.add_argument("--token", help="token required in the URL (made up when --ip is beyond loopback)")
    p.add_argument("--no-browser", action="store_true")
    p.set_defaults(fn=cmd_dashboard)
    args = ap.parse_args(argv)
    try:
        return args.fn(args)
    except KeyError as e:  # an unknown run id
        print(f"runwidgets: {cell(e.args[0] if type(e) is KeyError else e)}", file=sys.stderr)
        return 2
    except (WorkspaceError, ValueError, PermissionError) as e:
        print(f"runwidgets: {cell(e)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
