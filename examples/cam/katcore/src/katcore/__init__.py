"""Sensors and the CAM device server every service is built on."""

from .sensor import Sensor, SensorError
from .device import CamDevice

__version__ = "1.3.0"
__all__ = ["Sensor", "SensorError", "CamDevice"]
