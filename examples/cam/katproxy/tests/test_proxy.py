import asyncio
import threading
import unittest

from katcp import Message
from katcore import CamDevice, Sensor
from katproxy.proxy import Proxy, parse_device


class ProxyTest(unittest.TestCase):
    def test_a_role_of_several_nodes_is_its_first(self):
        self.assertEqual(parse_device("m000=127.77.0.3 127.77.0.9:7149"), ("m000", ("127.77.0.3", 7149)))

    def test_parse_device(self):
        self.assertEqual(parse_device("anc=10.0.0.1:7147"), ("anc", ("10.0.0.1", 7147)))

    def test_forwards_to_a_device_on_loopback(self):
        device = CamDevice("anc")
        device.add_sensor(Sensor("integer", "anc.count")).set(7, timestamp=1.0)
        loop = asyncio.new_event_loop()
        port = loop.run_until_complete(device.start())
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        try:
            proxy = Proxy({"anc": ("127.0.0.1", port)})
            replies = proxy.dispatch(Message.request("proxy", "anc", "sensor-value", "anc.count"))
            self.assertEqual(replies[-1].args, ["ok", "1"])
            self.assertEqual(replies[0].args[-1], "7")
            self.assertEqual(proxy.dispatch(Message.request("proxy", "x", "watchdog"))[-1].args[0], "fail")
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.run_until_complete(device.stop())
            loop.close()


if __name__ == "__main__":
    unittest.main()
