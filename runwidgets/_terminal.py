"""Text from runs made safe for a terminal: no escape sequences, no control characters.

Metric names, tags, error messages and a script's output are data. Printed
raw, an escape sequence in them can rewrite the screen, the window title or
the clipboard of whoever runs ``runwidgets show``.
"""

from __future__ import annotations

import re

# CSI, OSC, DCS/SOS/PM/APC strings and two-character escapes (ECMA-48)
_ESCAPES = re.compile(
    r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[PX^_][^\x1b]*(?:\x1b\\)?|[ -/]*[0-~])|\x9b[0-?]*[ -/]*[@-~]"
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_LINE_BREAKS = re.compile(r"[\t\n\r]")


def plain(text: str) -> str:
    """Lines of text (a log): escape sequences and controls removed; tabs, newlines and \\r kept."""
    return _CONTROLS.sub("", _ESCAPES.sub("", text))


def cell(value: object) -> str:
    """One table cell or field: like :func:`plain`, and on one line."""
    return _LINE_BREAKS.sub(" ", plain(str(value)))
