"""A device server with sensors: ``?sensor-list`` and ``?sensor-value``."""

from katconf import SystemConfig  # noqa: F401  (devices are configured from the system description)
from katcp import DeviceServer


class CamDevice(DeviceServer):
    def __init__(self, name, host="127.0.0.1", port=0):
        super().__init__(host, port)
        self.name = name
        self.sensors = {}

    def add_sensor(self, sensor):
        self.sensors[sensor.name] = sensor
        return sensor

    def request_sensor_list(self):
        informs = [[s.name, s.description, "", s.kind] for s in self.sensors.values()]
        return informs, ["ok", str(len(informs))]

    def request_sensor_value(self, name=None):
        if name and name not in self.sensors:
            return [], ["fail", f"unknown sensor {name}"]
        chosen = [self.sensors[name]] if name else list(self.sensors.values())
        return [s.reading() for s in chosen], ["ok", str(len(chosen))]
