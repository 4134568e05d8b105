"""Asking a store for one page of runs: which runs, in what order, and what to show of them.

The dashboard's runs table reads through :meth:`RunStore.search_runs` so that an
experiment of 10,000 runs costs one page of rows, never the whole list. The
filter language follows MLflow's search syntax where it can (``metrics.accuracy
> 0.9``, ``params.lr = 0.01``, ``tags.team = vision``), so people moving between
the two need not learn another.

A run's *params* are its sweep hyperparameters (the ``hyperparameters``
property, Azure's own record of them) and its plain properties, MLflow's params.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from .base import RunRecord

METRIC, PARAM, TAG, ATTRIBUTE = "metrics", "params", "tags", "attributes"
KINDS = (METRIC, PARAM, TAG, ATTRIBUTE)
# Attributes a run always has; "status" is the status a person sees (a lost run reads Failed).
ATTRIBUTES = ("name", "status", "started", "duration", "created", "run_id")
OPERATORS = ("=", "!=", ">", ">=", "<", "<=")
HYPERPARAMETERS = "hyperparameters"
PAGE_SIZE = 50


@dataclass(frozen=True)
class Column:
    """One column a runs table can show, sort on or filter by: ``metrics.accuracy``, ``params.--lr``."""

    kind: str
    name: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"column kind must be one of {', '.join(KINDS)}, not {self.kind!r}")
        if self.kind == ATTRIBUTE and self.name not in ATTRIBUTES:
            raise ValueError(f"no run attribute {self.name!r}: the attributes are {', '.join(ATTRIBUTES)}")

    @property
    def key(self) -> str:
        return f"{self.kind}.{self.name}"

    @classmethod
    def parse(cls, key: str) -> Column:
        kind, sep, name = key.partition(".")
        if not sep or kind not in KINDS or not name:
            raise ValueError(f"a column is written kind.name (kind: {', '.join(KINDS)}), not {key!r}")
        return cls(kind, name)


CREATED = Column(ATTRIBUTE, "created")


@dataclass(frozen=True)
class Condition:
    """``column op value``; ``op`` None: the tag or param is set (any value)."""

    column: Column
    op: str | None = None
    value: float | str | None = None

    def __post_init__(self) -> None:
        if self.op is not None and self.op not in OPERATORS:
            raise ValueError(f"operator must be one of {' '.join(OPERATORS)}, not {self.op!r}")
        if self.op in (">", ">=", "<", "<=") and not isinstance(self.value, float):
            raise ValueError(f"{self.column.key} {self.op} needs a number, not {self.value!r}")
        if self.column.kind == METRIC and self.op is not None and not isinstance(self.value, float):
            raise ValueError(f"{self.column.key}: metrics compare with numbers, not {self.value!r}")


def match_value(value: Any, op: str, want: Any) -> bool:
    """``value op want``: numbers compare as numbers (a param kept as text "0.01" too), text as text;
    a run without the value matches nothing."""
    if value is None:
        return False
    if isinstance(want, float):
        got = as_number(value)
        return op == "!=" if got is None else _compare(got, op, want)
    return _compare(str(value), op, want)


def _compare(a: Any, op: str, b: Any) -> bool:
    return {"=": a == b, "!=": a != b, ">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op]


def as_number(value: Any) -> float | None:
    """A stored value as a number to compare (a param is often text: "0.01"); None when it is not one."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            v = float(value)
        except ValueError:
            return None
        return v if not math.isnan(v) else None
    return None


@dataclass(frozen=True)
class RunQuery:
    """One page of runs. ``parent_id`` None: top-level runs; a run id: its children; ``...``: runs at
    any level (a filter finds children too). ``status``: the status a person sees."""

    experiments: tuple[str, ...] = ()  # () : every experiment
    parent_id: Any = None
    status: str | None = None
    where: tuple[Condition, ...] = ()
    order_by: Column = CREATED
    descending: bool = True
    offset: int = 0
    limit: int = PAGE_SIZE

    def __post_init__(self) -> None:
        if self.offset < 0 or not 1 <= self.limit <= 1000:
            raise ValueError(f"a page is 1 to 1,000 runs from offset >= 0, not {self.limit} from {self.offset}")


@dataclass
class RunPage:
    """What :meth:`RunStore.search_runs` returns: the page's runs and what a table shows of them."""

    runs: list[RunRecord]
    total: int | None  # runs matching in all (None: the store cannot count them cheaply; see has_more)
    has_more: bool
    children: dict[str, int] = field(default_factory=dict)  # run id -> number of children (runs with any)
    metrics: dict[str, dict[str, float | None]] = field(default_factory=dict)  # run id -> latest scalar values
    rows_read: int = 0  # runs the store read to answer (tests bound it: a page, not the experiment)


@dataclass
class RunColumns:
    """The metric and param names runs of some experiments have: what a user may pick as columns."""

    metrics: list[str]
    params: list[str]

    def resolve(self, name: str, kind: str | None = None) -> Column:
        """The column a user means: ``lr`` finds the param ``--lr``; a bare name is a metric first."""
        kinds = [kind] if kind else [METRIC, PARAM]
        for k in kinds:
            known = self.metrics if k == METRIC else self.params if k == PARAM else []
            for candidate in (name, f"--{name}", f"-{name}"):
                if candidate in known:
                    return Column(k, candidate)
        if kind is None and name in ATTRIBUTES:
            return Column(ATTRIBUTE, name)
        return Column(kind or METRIC, name)


def params_of(record: RunRecord) -> dict[str, Any]:
    """A run's params: its hyperparameters (values as the search drew them) and its other properties."""
    out: dict[str, Any] = {k: v for k, v in record.properties.items() if is_param_property(k)}
    raw = record.properties.get(HYPERPARAMETERS)
    if raw:
        try:
            hp = json.loads(raw)
        except ValueError:
            hp = None
        if isinstance(hp, dict):
            out.update(hp)
    return out


def is_param_property(key: str) -> bool:
    """Plain properties are params; namespaced ones (``azureml.runsource``, ``runwidgets.*``) are not."""
    return key != HYPERPARAMETERS and "." not in key


# -- the filter language ---------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<op>!=|>=|<=|==|=|>|<)
      | (?P<quoted>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<word>(?:`[^`]*`|[^\s=!<>'"`])+)
    )""",
    re.X,
)


class FilterError(ValueError):
    """A filter that cannot be read; the message says where and what is expected."""


def parse_filter(text: str, columns: RunColumns) -> tuple[Condition, ...]:
    """``accuracy > 0.9 and params.lr = 0.01 and tags.team = vision and tags.baseline``.

    Clauses join with ``and``. A name is ``metrics.x``, ``params.x``, ``tags.x``,
    an attribute (``status``, ``name``, ``duration`` in seconds), or a bare name
    (a metric if runs log it, else a param). Names with spaces go in backquotes.
    """
    tokens = _tokens(text)
    out: list[Condition] = []
    i = 0
    while i < len(tokens):
        kind, tok = tokens[i]
        if kind != "word":
            raise FilterError(f"expected a name at {tok!r} (e.g. accuracy > 0.9)")
        column = _column(tok, columns)
        i += 1
        if i < len(tokens) and tokens[i][0] == "op":
            op = "=" if tokens[i][1] == "==" else tokens[i][1]
            if i + 1 >= len(tokens) or tokens[i + 1][0] == "op":
                raise FilterError(f"{tok} {op} needs a value")
            raw_kind, raw = tokens[i + 1]
            value: float | str = _unquote(raw) if raw_kind == "quoted" else _value(raw)
            if column.kind == ATTRIBUTE and column.name in ("name", "status", "run_id"):
                value = raw if raw_kind != "quoted" else _unquote(raw)
            try:
                out.append(Condition(column, op, value))
            except ValueError as e:
                raise FilterError(str(e)) from None
            i += 2
        else:
            if column.kind not in (TAG, PARAM):
                raise FilterError(f"{tok} needs an operator and a value (e.g. {tok} > 0.9)")
            out.append(Condition(column))
        if i < len(tokens):
            if tokens[i][0] != "word" or tokens[i][1].lower() != "and":
                raise FilterError(f"expected 'and' before {tokens[i][1]!r}")
            i += 1
            if i >= len(tokens):
                raise FilterError("the filter ends with 'and'")
    return tuple(out)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos, text = [], 0, text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise FilterError(f"cannot read the filter at {text[pos:]!r}")
        kind = m.lastgroup or "word"
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


def _unquote(raw: str) -> str:
    return re.sub(r"\\(.)", r"\1", raw[1:-1])


def _value(raw: str) -> float | str:
    try:
        return float(raw)
    except ValueError:
        return raw


def _column(word: str, columns: RunColumns) -> Column:
    kind, sep, name = word.partition(".")
    if sep and kind.lower() in (*KINDS, "metric", "param", "tag", "attribute"):
        kind = {"metric": METRIC, "param": PARAM, "tag": TAG, "attribute": ATTRIBUTE}.get(kind.lower(), kind.lower())
        name = name.strip("`")
        if not name:
            raise FilterError(f"{word}: a name must follow {kind}.")
        try:
            return columns.resolve(name, kind) if kind in (METRIC, PARAM) else Column(kind, name)
        except ValueError as e:
            raise FilterError(str(e)) from None
    return columns.resolve(word.strip("`"))
