"""The reader side: RunDetails, its poller thread, charts and downsampling."""

from .details import RunDetails

__all__ = ["RunDetails"]
