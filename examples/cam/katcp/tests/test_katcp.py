import asyncio
import threading
import unittest

from katcp import BlockingClient, DeviceServer, Message, MessageError


class MessageTest(unittest.TestCase):
    def test_round_trip_with_escapes(self):
        msg = Message.request("sensor-value", "a b", "", "tab\there")
        self.assertEqual(str(msg), "?sensor-value a\\_b \\@ tab\\there")
        self.assertEqual(Message.parse(str(msg)), msg)

    def test_rejects_garbage(self):
        for line in ["", "hello", "?", "?bad_name!"]:
            with self.assertRaises(MessageError):
                Message.parse(line)


class Echo(DeviceServer):
    def request_echo(self, *args):
        return [], ["ok", *args]


class ServerTest(unittest.TestCase):
    def test_client_and_server_on_loopback(self):
        server = Echo()
        loop = asyncio.new_event_loop()
        port = loop.run_until_complete(server.start())
        thread = threading.Thread(target=loop.run_forever, daemon=True)
        thread.start()
        try:
            with BlockingClient("127.0.0.1", port) as client:
                reply, _ = client.request("echo", "x y")
                self.assertEqual(reply.args, ["ok", "x y"])
                reply, informs = client.request("help")
                self.assertTrue(reply.reply_ok())
                self.assertIn(["echo"], [i.args for i in informs])
                reply, _ = client.request("nope")
                self.assertEqual(reply.args[0], "invalid")
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.run_until_complete(server.stop())
            loop.close()


if __name__ == "__main__":
    unittest.main()
