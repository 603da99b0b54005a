"""``katportal``: a small tornado application serving the system status as JSON."""

import argparse
import json
import os

import tornado.ioloop
import tornado.web

from katcore import Sensor
from katcp import BlockingClient
from katuilib import ObservationSession

VERSION = "0.4.0"


def status_document(sensors):
    return {"version": VERSION, "sensors": {s.name: {"status": s.status, "value": s.value} for s in sensors}}


class HealthHandler(tornado.web.RequestHandler):
    def get(self):
        self.write({"status": "ok", "version": VERSION})


class StatusHandler(tornado.web.RequestHandler):
    def initialize(self, sensors):
        self.sensors = sensors

    def get(self):
        self.set_header("Content-Type", "application/json")
        self.write(json.dumps(status_document(self.sensors), sort_keys=True))


class AntennaHandler(tornado.web.RequestHandler):
    """An antenna's sensors, asked through the device proxy of the monctl node (found through the
    address deploy-lxc wrote: LASTMILE_ROLE_MONCTL)."""

    def initialize(self, proxy):
        self.proxy = proxy

    def get(self, name):
        host, port = self.proxy
        try:
            with BlockingClient(host, port, timeout=2.0) as client:
                reply, informs = client.request("proxy", name, "sensor-value")
        except OSError as err:
            self.set_status(502)
            self.write({"antenna": name, "error": f"proxy {host}:{port} unreachable: {err}"})
            return
        if not reply.args or reply.args[0] != "ok":
            self.set_status(502)
            self.write({"antenna": name, "error": " ".join(reply.args)})
            return
        sensors = {i.args[2]: {"status": i.args[3], "value": i.args[4]} for i in informs if len(i.args) >= 5}
        self.write({"antenna": name, "sensors": sensors})


def proxy_address(environ=os.environ):
    monctl = environ.get("LASTMILE_ROLE_MONCTL", "127.0.0.1").split()
    return (monctl[0] if monctl else "127.0.0.1", 7150)


def make_app(proxy=None):
    session = ObservationSession(1, ["m000", "m001"])
    uptime = Sensor("integer", "portal.requests")
    uptime.set(0)
    return tornado.web.Application([
        (r"/health", HealthHandler),
        (r"/status", StatusHandler, {"sensors": [uptime, session.progress]}),
        (r"/antenna/([a-z0-9]+)", AntennaHandler, {"proxy": proxy or proxy_address()}),
    ])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="katportal", description="Serve the operator portal.")
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    opts = parser.parse_args(argv)
    make_app().listen(opts.port, address=opts.address)
    tornado.ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
