"""Persistence. The only package that knows SQL or MLflow; imports nothing else of ours."""

from .base import Cursor, Delta, RunRecord, RunStore, SeriesChunk, SeriesKey
from .registry import open_store

__all__ = ["Cursor", "Delta", "RunRecord", "RunStore", "SeriesChunk", "SeriesKey", "open_store"]
