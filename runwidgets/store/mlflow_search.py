"""A :class:`RunQuery` as MLflow's own search: a filter string and an order-by clause the tracking
server evaluates, so a page of runs is one ``search_runs`` call however many runs an experiment holds.

MLflow compares params and tags as text (``=`` and ``!=``) and cannot sort by duration; such a query
raises ValueError saying so rather than loading every run to do it here.
"""

from __future__ import annotations

from .base import CANCELED, COMPLETED, FAILED
from .query import ATTRIBUTE, METRIC, PARAM, TAG, Column, Condition, RunQuery

PARENT = "mlflow.parentRunId"
STATUS_TAG = "runwidgets.status"
# Ended runs are found by MLflow's own status (plain-mlflow runs have no runwidgets tag); live ones by ours.
_ML_STATUS = {COMPLETED: "FINISHED", FAILED: "FAILED", CANCELED: "KILLED"}
_ATTRIBUTE = {"name": "run_name", "started": "start_time", "created": "start_time", "status": "status"}


def _name(kind: str, name: str) -> str:
    return f"{kind}.`{name}`"


def _text(value: object) -> str:
    """A value as MLflow keeps a param: 32, not 32.0; 0.01 as written."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        value = int(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _number(value: object) -> str:
    """A number as MLflow's filter parser reads one: positional, never 1e+21 (which it refuses)."""
    import numpy as np

    return np.format_float_positional(float(value), trim="-")  # type: ignore[arg-type]


def condition(cond: Condition, metric_key) -> str:
    col, op = cond.column, cond.op
    if col.kind == METRIC:
        return f"{_name('metrics', metric_key(col.name))} {op} {_number(cond.value)}"
    if col.kind in (PARAM, TAG):
        # a hyperparameter is kept as a param under MLflow's safe key (MlflowStore.add_properties)
        ref = _name("params", metric_key(col.name)) if col.kind == PARAM else _name("tags", col.name)
        if op is None:
            return f"{ref} IS NOT NULL"
        if op not in ("=", "!="):
            raise ValueError(f"MLflow compares {col.kind} as text, with = and != only: {col.key} {op} cannot run")
        return f"{ref} {op} {_text(cond.value)}"
    assert col.kind == ATTRIBUTE
    if col.name == "status":
        if op not in ("=", "!="):
            raise ValueError("status compares with = and != only")
        return status_filter(str(cond.value), op)
    if col.name in ("started", "created"):
        return f"attributes.start_time {op} {int(float(cond.value or 0) * 1000)}"  # type: ignore[arg-type]
    if col.name == "run_id":
        return f"attributes.run_id {op} {_text(cond.value)}"
    if col.name == "name":
        return f"attributes.run_name {op} {_text(cond.value)}"
    raise ValueError(f"MLflow cannot filter runs by {col.name}")


def status_filter(status: str, op: str = "=") -> str:
    if status in _ML_STATUS:
        return f"attributes.status {op} '{_ML_STATUS[status]}'"
    return f"tags.`{STATUS_TAG}` {op} {_text(status)}"


def filter_string(query: RunQuery, metric_key) -> str:
    parts = []
    if query.parent_id is None:
        parts.append(f"tags.`{PARENT}` IS NULL")
    elif query.parent_id is not ...:
        parts.append(f"tags.`{PARENT}` = {_text(query.parent_id)}")
    if query.status:
        parts.append(status_filter(query.status))
    parts += [condition(c, metric_key) for c in query.where]
    return " and ".join(parts)


def order_by(column: Column, descending: bool, metric_key) -> list[str]:
    direction = "DESC" if descending else "ASC"
    if column.kind == ATTRIBUTE:
        if column.name not in _ATTRIBUTE:
            raise ValueError(f"MLflow cannot sort runs by {column.name}")
        key = f"attributes.{_ATTRIBUTE[column.name]}"
    elif column.kind == METRIC:
        key = _name("metrics", metric_key(column.name))
    elif column.kind == PARAM:
        key = _name("params", metric_key(column.name))
    else:
        key = _name("tags", column.name)
    return [f"{key} {direction}"] if key == "attributes.start_time" else [f"{key} {direction}", "start_time DESC"]
