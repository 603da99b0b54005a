"""``kat-proxy``: one KATCP endpoint in front of several devices; ``?proxy <device> <request> ...``."""

import argparse
import asyncio

from katcore import CamDevice, Sensor
from katcp import BlockingClient


class Proxy(CamDevice):
    def __init__(self, devices, host="127.0.0.1", port=0):
        super().__init__("katproxy", host, port)
        self.devices = dict(devices)
        self.add_sensor(Sensor("integer", "proxy.devices", "devices behind the proxy")).set(len(self.devices))

    def request_proxy(self, device, request, *args):
        if device not in self.devices:
            return [], ["fail", f"unknown device {device}"]
        host, port = self.devices[device]
        try:
            with BlockingClient(host, port, timeout=2.0) as client:
                reply, informs = client.request(request, *args)
        except OSError as err:
            return [], ["fail", f"{device} unreachable: {err}"]
        return [i.args for i in informs], reply.args


def parse_device(text):
    """name=host:port; host may be a role's addresses (every node of it, space-separated, as
    LASTMILE_ROLE_<ROLE> gives them): the first is the device's."""
    name, _, address = text.partition("=")
    host, _, port = address.rpartition(":")
    hosts = host.split()
    return name, (hosts[0] if hosts else "127.0.0.1", int(port))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="kat-proxy", description="Proxy KATCP requests to devices.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7150)
    parser.add_argument("devices", nargs="*", type=parse_device, help="name=host:port")
    opts = parser.parse_args(argv)
    asyncio.run(Proxy(opts.devices, opts.host, opts.port).serve_forever())


if __name__ == "__main__":
    main()
