import unittest

from katcp import Message
from katsim.simulator import SimulatedReceptor


class SimulatorTest(unittest.TestCase):
    def test_slews_at_the_rate_limit(self):
        sim = SimulatedReceptor("m000")
        sim.point(10.0, 80.0)
        self.assertFalse(sim.step(1.0))
        self.assertEqual((sim.azimuth.value, sim.elevation.value), (2.0, 88.0))
        for _ in range(10):
            if sim.step(1.0):
                break
        self.assertEqual((sim.azimuth.value, sim.elevation.value), (10.0, 80.0))

    def test_target_request(self):
        sim = SimulatedReceptor("m001")
        reply = sim.dispatch(Message.request("target", "3C 286, radec, 13:31:08.3, 30:30:33.0"))[-1]
        self.assertEqual(reply.args, ["ok", "3C 286"])


if __name__ == "__main__":
    unittest.main()
