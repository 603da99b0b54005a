"""``kat-comp``: reports which components a node should run, as a KATCP device."""

import argparse
import asyncio

from katcore import CamDevice, Sensor


class Supervisor(CamDevice):
    def __init__(self, node, components, host="127.0.0.1", port=0):
        super().__init__("katcomp", host, port)
        self.node, self.components = node, list(components)
        for name in self.components:
            self.add_sensor(Sensor("string", f"{name}.state", f"state of {name}")).set("expected")

    def mark(self, component, state):
        self.sensors[f"{component}.state"].set(state)

    def healthy(self):
        return all(self.sensors[f"{c}.state"].value == "running" for c in self.components)

    def request_components(self):
        informs = [[c, self.sensors[f"{c}.state"].value] for c in self.components]
        return informs, ["ok", str(len(informs))]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="kat-comp", description="Supervise a node's components.")
    parser.add_argument("--node", default="monctl")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7148)
    parser.add_argument("components", nargs="*", default=["katconfserver", "katproxy"])
    opts = parser.parse_args(argv)
    asyncio.run(Supervisor(opts.node, opts.components, opts.host, opts.port).serve_forever())


if __name__ == "__main__":
    main()
