"""``katportal-front``: nginx in front of the portal, bound to this node's address.

nginx is a Debian package of the portal role (locked in the system's OS lock, never installed
from the network at run time); Debian's own nginx.service stays disabled, and this front runs it
with a configuration made from the node's address, in the foreground under systemd.
"""

import argparse
import os

NGINX = "/usr/sbin/nginx"

CONFIG = """\
# Made by katportal-front for {address}; not edited by hand.
worker_processes 1;
pid {run}/nginx.pid;
error_log stderr;
events {{
    worker_connections 64;
}}
http {{
    access_log off;
    client_body_temp_path {run}/body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    server {{
        listen {address}:{port};
        location / {{
            proxy_pass http://{address}:{backend};
            proxy_set_header Host $host;
        }}
    }}
}}
"""


def config(address, port, backend, run):
    return CONFIG.format(address=address, port=port, backend=backend, run=run)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="katportal-front", description="Serve the portal through nginx.")
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--backend", type=int, default=8080, help="the portal's own port on the same address")
    parser.add_argument("--run-dir", default="/run/katportal-front")
    opts = parser.parse_args(argv)
    os.makedirs(opts.run_dir, exist_ok=True)
    path = os.path.join(opts.run_dir, "nginx.conf")
    with open(path, "w") as f:
        f.write(config(opts.address, opts.port, opts.backend, opts.run_dir))
    os.execv(NGINX, [NGINX, "-e", "stderr", "-c", path, "-g", "daemon off;"])


if __name__ == "__main__":
    main()
