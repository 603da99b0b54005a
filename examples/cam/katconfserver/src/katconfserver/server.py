"""``katconfserver``: answers ``?config-receptors`` and ``?config-node`` from the system description."""

import argparse
import asyncio

from katconf import bundled_system, load_system
from katcore import CamDevice, Sensor


class ConfigServer(CamDevice):
    def __init__(self, system, host="127.0.0.1", port=0):
        super().__init__("katconfserver", host, port)
        self.system = system
        self.add_sensor(Sensor("integer", "config.receptors", "number of receptors")).set(len(system.receptors))

    def request_config_receptors(self):
        informs = [[r.name, f"{r.latitude:.6f}", f"{r.longitude:.6f}", f"{r.altitude:.1f}"]
                   for r in self.system.receptors]
        return informs, ["ok", str(len(informs))]

    def request_config_node(self, node):
        if node not in self.system.nodes:
            return [], ["fail", f"unknown node {node}"]
        return [[service] for service in self.system.nodes[node]], ["ok", str(len(self.system.nodes[node]))]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="katconfserver", description="Serve the telescope configuration.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7147)
    parser.add_argument("--config", help="system YAML (default: the bundled karoo system)")
    opts = parser.parse_args(argv)
    system = load_system(opts.config) if opts.config else bundled_system()
    asyncio.run(ConfigServer(system, opts.host, opts.port).serve_forever())


if __name__ == "__main__":
    main()
