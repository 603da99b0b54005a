"""Device simulators."""

__version__ = "0.7.0"
