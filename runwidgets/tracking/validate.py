"""Checks for what users pass to ``run.log*()``: each raises at the call, saying what to do.

Only the slow paths live here; ``Run.log`` inlines the checks for plain
``int``/``float``/``str`` so a million calls stay cheap.
"""

from __future__ import annotations

import datetime as dt
import numbers
import re
from typing import Any

from ..store.files import check_name, check_run_id

MAX_NAME = 250
MAX_STRING = 4096
# An int is stored exactly (the SQLite store) or as a float64 (MLflow): one that no float64 can
# hold would fail in the store long after the call, so it is refused at the call.
INT_LIMIT = 2**1023  # below this in magnitude an int always converts to a float64: the fast path's test
_NAME_OK = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,254}")

run_id = check_run_id


def text(value: str, what: str) -> str:
    """A str the store can encode: UTF-8, so no lone surrogate (``"\\ud800"``, from bad decoding)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(
            f"{what} {value[:80]!r} has a character that cannot be stored ({value[e.start]!r} at position"
            f" {e.start}, a lone surrogate): clean it first, e.g. text.encode('utf-8', 'replace').decode()"
        ) from None
    return value


def metric_name(name: Any, what: str = "metric name") -> str:
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a str, got {type(name).__name__}: {name!r}")
    if not name.strip():
        raise ValueError(f"{what} must not be empty")
    if len(name) > MAX_NAME:
        raise ValueError(f"{what} is {len(name)} characters long; use at most {MAX_NAME}")
    if "\x00" in name:
        raise ValueError(f"{what} must not contain a NUL character")
    return text(name, what)


def display_name(name: Any, what: str = "display name") -> str | None:
    if name is None:
        return None
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a str, got {type(name).__name__}")
    if len(name) > MAX_NAME:
        raise ValueError(f"{what} is {len(name)} characters long; use at most {MAX_NAME}")
    return text(name, what)


def description(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"description of {name!r} must be a str, got {type(value).__name__}")
    if len(value) > MAX_STRING:
        raise ValueError(f"description of {name!r} is {len(value)} characters long; use at most {MAX_STRING}")
    return text(value, f"description of {name!r}")


def experiment_name(name: Any) -> str:
    if not isinstance(name, str) or not _NAME_OK.fullmatch(name):
        raise ValueError(
            f"experiment name {name!r} is not valid: use 1 to 255 letters, digits, '_', '-' or '.',"
            " starting with a letter or digit"
        )
    return name


def integer(name: str, value: int) -> int:
    if -INT_LIMIT < value < INT_LIMIT:
        return value
    try:
        float(value)
    except OverflowError:
        raise ValueError(
            f"run.log({name!r}, ...): the int with {len(str(abs(value))) if abs(value) < 10**4000 else 'over 4000'}"
            " digits is too large to store (beyond float64's range); log float(value) if it fits, or str(value)"
        ) from None
    return value


def _no_dates(name: str, value: Any) -> None:
    dtype = getattr(value, "dtype", None)
    if isinstance(value, (dt.date, dt.time, dt.timedelta)) or getattr(dtype, "kind", "") in ("m", "M"):
        kind = type(value).__name__
        raise TypeError(
            f"run.log({name!r}, ...) got a {kind}; a metric is a number, a bool or a str. Log a date as"
            " value.isoformat() (or str(value)), or as a number such as value.timestamp()"
        )


def scalar(name: str, value: Any) -> Any:
    """A loggable single value (bool, int, float, str), or a TypeError that says what to use."""
    if isinstance(value, (bool, int, float, str)):
        if isinstance(value, str):
            return string(name, value)
        if isinstance(value, int) and not isinstance(value, bool):
            return integer(name, int(value))
        return value
    _no_dates(name, value)
    import numpy as np  # numpy scalars and 0-d arrays

    if isinstance(value, np.floating) and not isinstance(value, (np.float16, np.float32, np.float64)):
        return float(value)  # longdouble: .item() would give a longdouble back
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
        try:
            return float(value)
        except OverflowError:
            raise ValueError(
                f"run.log({name!r}, ...): {type(value).__name__} value is beyond float64's range"
            ) from None
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
    return text(value, f"metric {name!r}: the string value")


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
        metric_name(col, f"column name of table {name!r}")
        try:
            out[col] = scalar(name, v)
        except TypeError as e:
            raise TypeError(f"run.log_row({name!r}, {col}=...): {e}") from None
    return out


def relative_name(name: Any, what: str = "file name") -> str:
    """A path inside a run's folder: relative, no '..', forward slashes."""
    return text(check_name(name, what), what)


def tag_value(key: Any, value: Any) -> str | None:
    """A tag's value as stored: a str, or None for a tag set without one (``run.tag("flag")``)."""
    metric_name(key, "tag name")
    if value is None:
        return None
    if isinstance(value, (str, int, float, bool)):
        return text(str(value), f"tag {key!r}: the value")
    raise TypeError(f"tag {key!r}: value must be a str, number or bool, got {type(value).__name__}")


def property_value(key: Any, value: Any) -> str:
    """A property's value as stored: properties are strings ("" for None)."""
    v = tag_value(key, value)
    return "" if v is None else v
