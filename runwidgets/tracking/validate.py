"""Checks for what users pass to ``run.log*()``: each raises at the call, saying what to do.

Only the slow paths live here; ``Run.log`` inlines the checks for plain
``int``/``float``/``str`` so a million calls stay cheap.
"""

from __future__ import annotations

import numbers
import re
from pathlib import PurePosixPath
from typing import Any

MAX_NAME = 250
MAX_STRING = 4096
_NAME_OK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,254}")


def metric_name(name: Any, what: str = "metric name") -> str:
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a str, got {type(name).__name__}: {name!r}")
    if not name.strip():
        raise ValueError(f"{what} must not be empty")
    if len(name) > MAX_NAME:
        raise ValueError(f"{what} is {len(name)} characters long; use at most {MAX_NAME}")
    if "\x00" in name:
        raise ValueError(f"{what} must not contain a NUL character")
    return name


def experiment_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME_OK.fullmatch(name):
        raise ValueError(
            f"experiment name {name!r} is not valid: use 1 to 255 letters, digits, '_', '-' or '.',"
            " starting with a letter or digit"
        )
    return name


def scalar(name: str, value: Any) -> Any:
    """A loggable single value (bool, int, float, str), or a TypeError that says what to use."""
    if isinstance(value, (bool, int, float, str)):
        return string(name, value) if isinstance(value, str) else value
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is a dependency
        np = None
    if np is not None:
        if isinstance(value, np.ndarray):
            if value.ndim == 0:
                return scalar(name, value.item())
            raise TypeError(
                f"run.log({name!r}, ...) got an array of shape {value.shape}; log one value per call,"
                f" or use run.log_list({name!r}, values) for a list of values"
            )
        if isinstance(value, np.generic):
            return scalar(name, value.item())
    if isinstance(value, (list, tuple, range, set, frozenset, dict)) or _is_iterator(value):
        hint = "run.log_table(name, {column: values})" if isinstance(value, dict) else "run.log_list(name, values)"
        raise TypeError(
            f"run.log({name!r}, ...) got a {type(value).__name__}; run.log takes one value per call. Use {hint} instead"
        )
    if value is None:
        raise TypeError(f"run.log({name!r}, None): there is no value to log; pass a number or a string")
    if isinstance(value, numbers.Real):  # Decimal, Fraction, torch scalars with __float__ ...
        return float(value)
    if hasattr(value, "item") and callable(value.item):  # torch / tensorflow 0-d tensors
        try:
            return scalar(name, value.item())
        except (TypeError, ValueError, RuntimeError):
            pass
    raise TypeError(f"run.log({name!r}, ...) cannot log a {type(value).__name__}; log a number, a bool or a str")


def string(name: str, value: str) -> str:
    if len(value) > MAX_STRING:
        raise ValueError(
            f"metric {name!r}: a string value of {len(value)} characters is too long to be a metric"
            f" (at most {MAX_STRING}); use run.upload_file or a log file for text"
        )
    return value


def _is_iterator(value: Any) -> bool:
    return hasattr(value, "__next__") and hasattr(value, "__iter__")


def step(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError("step must be an int, not a bool")
    if isinstance(value, numbers.Integral):
        value = int(value)
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    else:
        try:
            import numpy as np

            if isinstance(value, np.integer):
                value = int(value)
        except ImportError:  # pragma: no cover
            pass
    if not isinstance(value, int):
        raise TypeError(f"step must be a whole number (epoch, batch, iteration), got {value!r}")
    if not -(2**63) <= value < 2**63:
        raise ValueError(f"step {value} does not fit in 64 bits")
    return value


def values_list(name: str, values: Any, what: str = "run.log_list") -> list:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(
            f"{what}({name!r}, ...) needs an iterable of values (list, tuple, array, generator),"
            f" got {type(values).__name__}; use run.log({name!r}, value) for one value"
        )
    if isinstance(values, dict):
        raise TypeError(f"{what}({name!r}, ...) got a dict; use run.log_table({name!r}, {{column: values}})")
    try:
        import numpy as np

        if isinstance(values, np.ndarray) and values.ndim != 1:
            raise TypeError(f"{what}({name!r}, ...) needs a 1-d sequence, got an array of shape {values.shape}")
    except ImportError:  # pragma: no cover
        pass
    out = []
    for i, v in enumerate(values):
        try:
            out.append(scalar(name, v))
        except TypeError as e:
            raise TypeError(f"{what}({name!r}, ...): item {i}: {e}") from None
    return out


def table(name: str, columns: Any) -> dict[str, list]:
    if not isinstance(columns, dict) and hasattr(columns, "to_dict") and hasattr(columns, "columns"):
        columns = {str(c): list(columns[c]) for c in columns.columns}  # a pandas DataFrame
    if not isinstance(columns, dict):
        raise TypeError(
            f"run.log_table({name!r}, ...) needs a dict of columns like {{'x': [1, 2], 'y': [3, 4]}}"
            f" (or a pandas DataFrame), got {type(columns).__name__}"
        )
    if not columns:
        raise ValueError(f"run.log_table({name!r}, {{}}): the table has no columns")
    out = {}
    for col, vals in columns.items():
        metric_name(col, f"column name of table {name!r}")
        out[col] = values_list(name, vals, "run.log_table")
    lengths = {c: len(v) for c, v in out.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(
            f"run.log_table({name!r}, ...): columns have different lengths {lengths}; every column"
            " needs one value per row"
        )
    return out


def row(name: str, cells: dict) -> dict:
    if not cells:
        raise ValueError(f"run.log_row({name!r}) needs at least one column, e.g. run.log_row({name!r}, x=1, y=2)")
    out = {}
    for col, v in cells.items():
        try:
            out[col] = scalar(name, v)
        except TypeError as e:
            raise TypeError(f"run.log_row({name!r}, {col}=...): {e}") from None
    return out


def relative_name(name: Any, what: str = "file name") -> str:
    """A path inside a run's folder: relative, no '..', forward slashes."""
    if not isinstance(name, str) or not name.strip():
        raise TypeError(f"{what} must be a non-empty str, got {name!r}")
    norm = name.replace("\\", "/")
    p = PurePosixPath(norm)
    if p.is_absolute() or norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        raise ValueError(f"{what} {name!r} is absolute; give a path inside the run, such as 'outputs/model.pkl'")
    if ".." in p.parts:
        raise ValueError(f"{what} {name!r} leaves the run's folder ('..'); give a path inside the run")
    parts = [s for s in p.parts if s not in ("", ".")]
    if not parts:
        raise ValueError(f"{what} {name!r} names no file")
    return "/".join(parts)


def tag_value(key: Any, value: Any) -> str:
    metric_name(key, "tag name")
    if value is None:
        return ""
    if isinstance(value, (str, int, float, bool)):
        return str(value)
    raise TypeError(f"tag {key!r}: value must be a str, number or bool, got {type(value).__name__}")
