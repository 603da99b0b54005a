"""A blocking KATCP client, and ``katcp-cmd``: send one request and print the replies."""

import argparse
import socket
import sys

from .message import Message


class BlockingClient:
    def __init__(self, host, port, timeout=5.0):
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._file = self._sock.makefile("r", encoding="utf-8")

    def request(self, name, *args):
        """Send a request; return (reply, informs)."""
        self._sock.sendall((str(Message.request(name, *args)) + "\n").encode())
        informs = []
        for line in self._file:
            msg = Message.parse(line)
            if msg.kind == "reply" and msg.name == name:
                return msg, informs
            informs.append(msg)
        raise ConnectionError(f"connection closed before the reply to ?{name}")

    def close(self):
        self._file.close()
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="katcp-cmd", description="Send one KATCP request.")
    parser.add_argument("address", help="host:port of the device")
    parser.add_argument("request", help="request name, e.g. watchdog")
    parser.add_argument("args", nargs="*")
    opts = parser.parse_args(argv)
    host, _, port = opts.address.rpartition(":")
    with BlockingClient(host or "127.0.0.1", int(port)) as client:
        reply, informs = client.request(opts.request, *opts.args)
    for msg in informs + [reply]:
        print(msg)
    return 0 if reply.reply_ok() else 1


if __name__ == "__main__":
    sys.exit(main())
