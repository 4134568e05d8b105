"""The ``runwidgets://`` URI of a local workspace, for MLflow."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import quote, unquote, urlparse

SCHEME = "runwidgets"


def tracking_uri(path: str | os.PathLike) -> str:
    """``runwidgets:///abs/path/to/workspace``."""
    return f"{SCHEME}://{quote(str(Path(path).resolve()))}"


def local_path(uri: str) -> Path:
    """The folder a ``runwidgets://`` URI names (a workspace, or a folder inside one)."""
    parsed = urlparse(uri)
    if parsed.scheme != SCHEME:
        raise ValueError(f"not a {SCHEME}:// URI: {uri!r}")
    if parsed.netloc not in ("", "localhost"):
        raise ValueError(f"{uri!r} names another host; a {SCHEME}:// URI names a folder on this machine")
    path = unquote(parsed.path)
    if not path.startswith("/"):
        raise ValueError(f"{uri!r} must name an absolute path: {SCHEME}:///path/to/workspace")
    return Path(path)
