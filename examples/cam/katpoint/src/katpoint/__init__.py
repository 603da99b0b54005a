"""Pointing targets and angle conversions."""

from .angles import deg2rad, rad2deg, parse_sexagesimal, format_sexagesimal, angular_separation
from .target import Target, TargetError

__version__ = "0.10.1"
__all__ = ["deg2rad", "rad2deg", "parse_sexagesimal", "format_sexagesimal", "angular_separation",
           "Target", "TargetError"]
