"""How a value reads in text: the CLI, the view's property table and the child table agree."""

from __future__ import annotations

import math
from typing import Any


def fmt_value(v: Any) -> str:
    """A number to six significant digits (nan, inf as such); anything else as ``str``."""
    if isinstance(v, float):
        return f"{v:.6g}" if math.isfinite(v) else str(v)
    return str(v)


def number(text: str) -> float | str:
    """A tag's text as a number when it is one (tags store numbers as text)."""
    try:
        return float(text)
    except ValueError:
        return text
