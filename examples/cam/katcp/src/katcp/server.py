"""An asyncio KATCP device server: subclass it and add ``request_<name>`` methods."""

import asyncio

from .message import Message, MessageError


class DeviceServer:
    VERSION = "katcp-device 0.9"
    BUILD_STATE = "katcp-0.9.4"

    def __init__(self, host="127.0.0.1", port=0):
        self.host, self.port = host, port
        self._server = None

    async def start(self):
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self):
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def serve_forever(self):
        await self.start()
        async with self._server:
            await self._server.serve_forever()

    def handlers(self):
        return sorted(n[len("request_"):].replace("_", "-") for n in dir(self) if n.startswith("request_"))

    def dispatch(self, msg):
        """Answer one request with a list of messages: informs, then the reply."""
        if msg.kind != "request":
            return []
        handler = getattr(self, "request_" + msg.name.replace("-", "_"), None)
        if handler is None:
            return [Message.reply(msg.name, "invalid", f"unknown request {msg.name}")]
        try:
            informs, reply_args = handler(*msg.args)
        except TypeError as err:
            return [Message.reply(msg.name, "fail", str(err))]
        return [Message.inform(msg.name, *i) for i in informs] + [Message.reply(msg.name, *reply_args)]

    def request_watchdog(self):
        return [], ["ok"]

    def request_version_list(self):
        return [["katcp-protocol", "5.0"], ["katcp-device", self.VERSION, self.BUILD_STATE]], ["ok", "2"]

    def request_help(self):
        names = self.handlers()
        return [[n] for n in names], ["ok", str(len(names))]

    async def _handle(self, reader, writer):
        try:
            while line := await reader.readline():
                try:
                    replies = self.dispatch(Message.parse(line.decode()))
                except MessageError as err:
                    replies = [Message.inform("log", "error", str(err))]
                for reply in replies:
                    writer.write((str(reply) + "\n").encode())
                await writer.drain()
        finally:
            writer.close()
