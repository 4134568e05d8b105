"""Azure ML v1's evaluation metrics: a confusion matrix, an accuracy table, residuals, predictions.

Azure logs each as a JSON document ``{"schema_type", "schema_version",
"data"}`` kept as a file of the run, and its studio draws it (a heatmap, ROC
and precision-recall curves, a histogram, predicted against true). Here the
document is checked at the call, so a malformed one is refused with a reason
instead of drawn wrong later, and written whole to ``metrics/<name>_<id>.json``;
the metric (kind ``chart``) names that file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import numpy as np

# schema type -> the keys its data must have (Azure's documented names)
SCHEMAS: dict[str, tuple[str, ...]] = {
    "confusion_matrix": ("class_labels", "matrix"),
    "accuracy_table": (
        "probability_tables",
        "percentile_tables",
        "probability_thresholds",
        "percentile_thresholds",
        "class_labels",
    ),  # fmt: skip
    "residuals": ("bin_edges", "bin_counts"),
    "predictions": ("bin_averages", "bin_errors", "bin_counts", "bin_edges"),
}
VERSION = {"confusion_matrix": "1.0.0", "accuracy_table": "1.0.1", "residuals": "1.0.0", "predictions": "1.0.0"}


def document(schema: str, name: str, value: Any) -> dict:
    """The checked document for ``run.log_<schema>(name, value)``: a dict, or its JSON text.

    A value of just the data (``{"class_labels": ..., "matrix": ...}``) is
    accepted and wrapped, as Azure's own helpers produce either.
    """
    where = f"run.log_{schema}({name!r}, ...)"
    if isinstance(value, (str, bytes)):
        try:
            value = json.loads(value)
        except ValueError as e:
            raise ValueError(f"{where}: the value is not JSON ({e})") from None
    if not isinstance(value, Mapping):
        raise TypeError(f"{where} needs a dict (or its JSON text), got {type(value).__name__}")
    data = value.get("data", value if "schema_type" not in value else None)
    given = value.get("schema_type", schema)
    if given != schema:
        raise ValueError(f"{where}: the value's schema_type is {given!r}; use run.log_{given} for it")
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: 'data' must be a dict with {', '.join(SCHEMAS[schema])}")
    missing = [k for k in SCHEMAS[schema] if k not in data]
    if missing:
        raise ValueError(f"{where}: 'data' lacks {', '.join(missing)} (it needs {', '.join(SCHEMAS[schema])})")
    out = {k: _plain(where, k, data[k]) for k in SCHEMAS[schema]}
    _check_shapes(where, schema, out)
    return {"schema_type": schema, "schema_version": str(value.get("schema_version", VERSION[schema])), "data": out}


def _plain(where: str, key: str, v: Any) -> Any:
    """Lists of numbers (or of labels) as JSON can hold them: numpy arrays and scalars turned into lists."""
    if key == "class_labels":
        labels = list(v.tolist() if hasattr(v, "tolist") else v)
        return [x if isinstance(x, (str, int, float)) and not isinstance(x, bool) else str(x) for x in labels]
    try:
        arr = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: {key!r} must hold numbers only") from None
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{where}: {key!r} holds NaN or infinity; every entry must be a finite number")
    return arr.tolist()


def _check_shapes(where: str, schema: str, d: dict) -> None:
    def shape(k: str) -> tuple[int, ...]:
        return np.asarray(d[k], dtype=np.float64).shape

    def need(ok: bool, what: str) -> None:
        if not ok:
            raise ValueError(f"{where}: {what}")

    if schema == "confusion_matrix":
        k = len(d["class_labels"])
        need(shape("matrix") == (k, k), f"'matrix' must be {k} x {k} (one row and column per class label)")
    elif schema == "accuracy_table":
        c = len(d["class_labels"])
        for table, thresholds in (("probability_tables", "probability_thresholds"),
                                  ("percentile_tables", "percentile_thresholds")):  # fmt: skip
            t = len(d[thresholds])
            need(shape(table) == (c, t, 4), f"{table!r} must be {c} x {t} x 4 (class, threshold, TP FP TN FN)")
    elif schema == "residuals":
        n = len(d["bin_counts"])
        need(len(d["bin_edges"]) == n + 1, "'bin_edges' must have one more entry than 'bin_counts'")
    elif schema == "predictions":
        n = len(d["bin_counts"])
        need(len(d["bin_averages"]) == len(d["bin_errors"]) == n, "bin_averages, bin_errors and bin_counts differ")
        need(len(d["bin_edges"]) == n + 1, "'bin_edges' must have one more entry than 'bin_counts'")
