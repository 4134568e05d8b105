"""Running the `runwidgets` command as a user would: a real process, the user's environment less ours."""

import os
import subprocess
import sys


def cli(*args: str, cwd=None, env: dict | None = None) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RUNWIDGETS_")}
    return subprocess.run(
        [sys.executable, "-m", "runwidgets.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, **(env or {})},
    )
