"""Helpers shared by CAM services."""

from .timing import RateLimiter
from .logs import service_logger

__version__ = "1.2.0"
__all__ = ["RateLimiter", "service_logger"]
