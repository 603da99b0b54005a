"""User library for astronomers."""

__version__ = "0.2.0"
