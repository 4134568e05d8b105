"""Errors a store raises, each worded so that a person knows what to do next.

Both stores raise these (not sqlite3's or MLflow's own) for the cases a user
can act on; the CLI and the dashboard print them as one line.
"""

from __future__ import annotations


class RunNotFound(KeyError):
    """No run with this id in the store."""

    def __init__(self, run_id: str, where: str = "this workspace") -> None:
        super().__init__(run_id)
        self.where = where

    def __str__(self) -> str:
        return f"no run with id {self.args[0]!r} in {self.where}"


class WorkspaceError(RuntimeError):
    """The workspace cannot be used as asked; the message names the file and what to do."""


class WorkspaceNotFound(WorkspaceError):
    """A read-only command was pointed at a folder that holds no workspace."""


class SchemaError(WorkspaceError):
    """The workspace file was written by a newer runwidgets, or is not ours."""


class DamagedWorkspace(WorkspaceError):
    """The workspace's database cannot be read: damaged, truncated or not a database."""


class ReadOnlyWorkspace(WorkspaceError, PermissionError):
    """The workspace can be read but not written (a read-only folder or file)."""


class StoreFull(WorkspaceError, OSError):
    """The disk holding the workspace is full: nothing was written by this call."""


class StoreUnavailable(ConnectionError):
    """The tracking server could not be reached or answered with an error (credentials removed)."""
