"""The configuration server."""

__version__ = "1.0.2"
