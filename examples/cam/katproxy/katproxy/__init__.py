"""The KATCP proxy."""

__version__ = "0.3.0"
