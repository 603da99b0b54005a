import unittest

from katconf import bundled_system
from katcp import Message
from katconfserver.server import ConfigServer


class ConfigServerTest(unittest.TestCase):
    def setUp(self):
        self.server = ConfigServer(bundled_system())

    def test_receptors(self):
        replies = self.server.dispatch(Message.request("config-receptors"))
        self.assertEqual(str(replies[-1]), "!config-receptors ok 4")
        self.assertEqual(replies[0].args[0], "m000")

    def test_node_services(self):
        replies = self.server.dispatch(Message.request("config-node", "proxy"))
        self.assertEqual([m.args for m in replies[:-1]], [["katproxy"]])
        self.assertEqual(self.server.dispatch(Message.request("config-node", "x"))[-1].args[0], "fail")

    def test_sensor(self):
        replies = self.server.dispatch(Message.request("sensor-value", "config.receptors"))
        self.assertEqual(replies[0].args[-1], "4")


if __name__ == "__main__":
    unittest.main()
