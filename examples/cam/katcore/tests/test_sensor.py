import unittest

from katcp import Message
from katcore import CamDevice, Sensor, SensorError


class SensorTest(unittest.TestCase):
    def test_limits_set_status(self):
        sensor = Sensor("float", "wind.speed", limits=(0.0, 15.0))
        sensor.set(3.5, timestamp=10.0)
        self.assertEqual(sensor.reading(), ["10.000", "1", "wind.speed", "nominal", "3.5"])
        sensor.set(22, timestamp=11.0)
        self.assertEqual(sensor.status, "warn")

    def test_bad_value(self):
        with self.assertRaises(SensorError):
            Sensor("integer", "count").set("many")


class DeviceTest(unittest.TestCase):
    def test_sensor_value_request(self):
        device = CamDevice("anc")
        device.add_sensor(Sensor("boolean", "anc.ok")).set(True, timestamp=1.0)
        replies = device.dispatch(Message.request("sensor-value", "anc.ok"))
        self.assertEqual(str(replies[-1]), "!sensor-value ok 1")
        self.assertEqual(replies[0].args[-1], "1")
        self.assertEqual(device.dispatch(Message.request("sensor-value", "nope"))[-1].args[0], "fail")


if __name__ == "__main__":
    unittest.main()
