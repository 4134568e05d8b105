"""The runs' portal: a Voila app (``runwidgets dashboard``) that is also a widget (``Dashboard(ws).show()``)."""

from .app import Dashboard

__all__ = ["Dashboard"]
