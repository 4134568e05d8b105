"""Submitted runs: ScriptRunConfig, the supervisor process, and sweeps."""

from .config import ScriptRunConfig

__all__ = ["ScriptRunConfig"]
