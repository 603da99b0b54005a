"""The operator web portal."""

__version__ = "0.4.0"
