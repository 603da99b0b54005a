"""Observation scripting: sessions that track targets with a subarray."""

from .session import ObservationSession, SessionError

__version__ = "0.8.0"
__all__ = ["ObservationSession", "SessionError"]
