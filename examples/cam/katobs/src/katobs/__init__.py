"""Observation script runner."""

__version__ = "0.6.1"
