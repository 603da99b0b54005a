"""Sensors: typed values with a status, as KATCP reports them."""

import time

STATUSES = ("unknown", "nominal", "warn", "error", "failure")


class SensorError(ValueError):
    """A value the sensor cannot hold."""


class Sensor:
    TYPES = {"integer": int, "float": float, "boolean": bool, "string": str}

    def __init__(self, kind, name, description="", default=None, limits=None):
        if kind not in self.TYPES:
            raise SensorError(f"unknown sensor type {kind!r}")
        self.kind, self.name, self.description, self.limits = kind, name, description, limits
        self.timestamp, self.status, self.value = 0.0, "unknown", default

    def set(self, value, timestamp=None):
        try:
            value = self.TYPES[self.kind](value)
        except (TypeError, ValueError):
            raise SensorError(f"{self.name}: {value!r} is not a {self.kind}") from None
        status = "nominal"
        if self.limits is not None and not self.limits[0] <= value <= self.limits[1]:
            status = "warn"
        self.value, self.status = value, status
        self.timestamp = time.time() if timestamp is None else timestamp

    def reading(self):
        value = str(int(self.value)) if self.kind == "boolean" else str(self.value)
        return [f"{self.timestamp:.3f}", "1", self.name, self.status, value]
