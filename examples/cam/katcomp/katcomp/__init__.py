"""Component supervision for CAM nodes."""

__version__ = "0.5.0"
