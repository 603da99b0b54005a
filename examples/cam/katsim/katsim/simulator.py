"""``kat-sim``: a simulated receptor that slews towards requested targets."""

import argparse
import asyncio

from katcore import CamDevice, Sensor
from katpoint import Target


class SimulatedReceptor(CamDevice):
    SLEW_RATE = 2.0  # degrees per simulated second

    def __init__(self, name, host="127.0.0.1", port=0):
        super().__init__(name, host, port)
        self.azimuth = self.add_sensor(Sensor("float", f"{name}.ap.actual-azim", limits=(-185.0, 275.0)))
        self.elevation = self.add_sensor(Sensor("float", f"{name}.ap.actual-elev", limits=(15.0, 90.0)))
        self.azimuth.set(0.0)
        self.elevation.set(90.0)
        self.target = None

    def point(self, azimuth, elevation):
        self.requested = (float(azimuth), float(elevation))

    def step(self, seconds):
        """Advance the simulation; returns True once on target."""
        goal_az, goal_el = getattr(self, "requested", (self.azimuth.value, self.elevation.value))
        max_step = self.SLEW_RATE * seconds
        for sensor, goal in ((self.azimuth, goal_az), (self.elevation, goal_el)):
            delta = max(-max_step, min(max_step, goal - sensor.value))
            sensor.set(sensor.value + delta)
        return (self.azimuth.value, self.elevation.value) == (goal_az, goal_el)

    def request_target(self, description):
        self.target = Target.parse(description)
        return [], ["ok", self.target.name]

    def request_point(self, azimuth, elevation):
        self.point(azimuth, elevation)
        return [], ["ok"]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="kat-sim", description="Run a simulated receptor.")
    parser.add_argument("--name", default="m000")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7149)
    opts = parser.parse_args(argv)
    asyncio.run(SimulatedReceptor(opts.name, opts.host, opts.port).serve_forever())


if __name__ == "__main__":
    main()
