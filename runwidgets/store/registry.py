"""The one place that picks a store for a workspace: by the tracking URI's scheme, as MLflow's registry does."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from .base import RunStore

MLFLOW_SCHEMES = frozenset({"http", "https", "sqlite", "file", "postgresql", "mysql", "mssql", "databricks"})


def open_store(tracking_uri: str | None, root: str | os.PathLike, create: bool = True) -> RunStore:
    """The store for a workspace folder ``root``: the embedded SQLite store, or MLflow at ``tracking_uri``.

    With MLflow, ``root`` is the local staging folder (logs of live runs, downloaded files).
    ``create=False`` refuses to make a new embedded database.
    """
    if not tracking_uri:
        from .sqlite import SqliteStore

        return SqliteStore(root, create=create)
    scheme = urlsplit(tracking_uri).scheme.lower().split("+")[0]
    if scheme not in MLFLOW_SCHEMES:
        from .uri import redact

        raise ValueError(
            f"tracking URI {redact(tracking_uri)!r}: no store for the scheme {scheme!r}"
            f" (known: an MLflow URI, {', '.join(sorted(MLFLOW_SCHEMES))})"
        )
    try:
        from .mlflow import MlflowStore
    except ImportError:
        raise ImportError("an MLflow tracking URI needs mlflow: pip install 'runwidgets[mlflow]'") from None
    return MlflowStore(tracking_uri, staging=Path(root))
