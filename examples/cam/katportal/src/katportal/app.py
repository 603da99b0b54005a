"""``katportal``: a small tornado application serving the system status as JSON."""

import argparse
import json

import tornado.ioloop
import tornado.web

from katcore import Sensor
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


def make_app():
    session = ObservationSession(1, ["m000", "m001"])
    uptime = Sensor("integer", "portal.requests")
    uptime.set(0)
    return tornado.web.Application([
        (r"/health", HealthHandler),
        (r"/status", StatusHandler, {"sensors": [uptime, session.progress]}),
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
