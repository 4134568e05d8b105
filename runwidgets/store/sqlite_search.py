"""The SQL of a :class:`RunQuery` on the embedded store: filters and sort keys as expressions over
``runs r`` (joined to ``experiments e`` and the parent ``runs p``), so SQLite sorts and pages 10,000 runs
and hands back one page."""

from __future__ import annotations

import sqlite3
from typing import Any

from .base import LIVE
from .query import ATTRIBUTE, HYPERPARAMETERS, METRIC, PARAM, TAG, Column, Condition, RunQuery, match_value

_LIVE = ",".join(f"'{s}'" for s in sorted(LIVE))


def display_status(now: float, timeout: float) -> tuple[str, list[Any]]:
    """The status a person sees: a live run whose heartbeat stopped reads Failed (RunRecord.display_status)."""
    return (
        f"(CASE WHEN r.status IN ({_LIVE}) AND ? - coalesce(r.heartbeat, r.started, r.created) > ?"
        " THEN 'Failed' ELSE r.status END)",
        [now, timeout],
    )


def value_of(column: Column, now: float, timeout: float) -> tuple[str, list[Any]]:
    """An SQL expression for a run's value in ``column`` (NULL where it has none)."""
    if column.kind == METRIC:
        return "(SELECT l.value FROM latest l WHERE l.run = r.id AND l.name = ?)", [column.name]
    if column.kind == PARAM:
        # json_each, not json_extract: SQLite 3.40 matches a path against the key as written, and
        # json.dumps writes "--ç" as "--\u00e7"; json_each gives keys decoded
        return (
            "coalesce((SELECT j.value FROM properties pp, json_each(pp.value) j"
            " WHERE pp.run = r.id AND pp.key = ? AND json_valid(pp.value) AND j.key = ?),"
            " (SELECT pp.value FROM properties pp WHERE pp.run = r.id AND pp.key = ?))",
            [HYPERPARAMETERS, column.name, column.name],
        )
    if column.kind == TAG:
        return "(SELECT t.value FROM tags t WHERE t.run = r.id AND t.key = ?)", [column.name]
    assert column.kind == ATTRIBUTE
    if column.name == "status":
        return display_status(now, timeout)
    if column.name == "duration":
        return "(coalesce(r.ended, ?) - r.started)", [now]
    return {"name": "r.name", "started": "r.started", "created": "r.created", "run_id": "r.run_id"}[column.name], []


def condition_sql(cond: Condition, now: float, timeout: float) -> tuple[str, list[Any]]:
    col = cond.column
    if cond.op is None:
        if col.kind == TAG:  # a tag set without a value is set all the same
            return "EXISTS(SELECT 1 FROM tags t WHERE t.run = r.id AND t.key = ?)", [col.name]
        expr, args = value_of(col, now, timeout)
        return f"{expr} IS NOT NULL", args
    expr, args = value_of(col, now, timeout)
    op = cond.op
    if isinstance(cond.value, float) and col.kind != METRIC:  # a number against a value that may be text
        return f"rw_match({expr}, ?, ?)", [*args, op, cond.value]
    return f"{expr} {op} ?", [*args, cond.value]


def register(con: sqlite3.Connection) -> None:
    """The functions the SQL above calls, on a connection that answers searches."""
    con.create_function("rw_match", 3, lambda v, op, want: match_value(v, op, want), deterministic=True)


def where_sql(query: RunQuery, now: float, timeout: float) -> tuple[str, list[Any]]:
    where, args = ["1"], []
    if query.experiments:
        where.append(f"e.name IN ({','.join('?' * len(query.experiments))})")
        args += list(query.experiments)
    if query.parent_id is None:
        where.append("r.parent IS NULL")
    elif query.parent_id is not ...:
        where.append("p.run_id = ?")
        args.append(query.parent_id)
    if query.status:
        expr, a = display_status(now, timeout)
        where.append(f"{expr} = ?")
        args += [*a, query.status]
    for cond in query.where:
        sql, a = condition_sql(cond, now, timeout)
        where.append(sql)
        args += a
    return " AND ".join(where), args


def order_sql(query: RunQuery, now: float, timeout: float) -> tuple[str, list[Any]]:
    """Runs without a value last either way; newest first among equals."""
    expr, args = value_of(query.order_by, now, timeout)
    direction = "DESC" if query.descending else "ASC"
    return f"ORDER BY {expr} IS NULL, {expr} {direction}, r.id DESC", args + args
