"""Wait until a node of a role accepts TCP on a port: wait-for.py ROLE PORT ADDRESS...

Written by bake-image into the release candidate; run by systemd before a service that says
`wait_for = ["ROLE:PORT"]`. Exits 0 as soon as one address answers, 1 after 300 s (systemd then
restarts the service, which waits again)."""
import socket
import sys
import time

role, port, addresses = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
if not addresses:
    sys.exit(f"wait-for: no node has role {role} (LASTMILE_ROLE_{role.upper()} is empty)")
deadline = time.monotonic() + 300
said = False
while True:
    for address in addresses:
        try:
            socket.create_connection((address, port), timeout=2).close()
            sys.exit(0)
        except OSError:
            pass
    if time.monotonic() > deadline:
        sys.exit(f"wait-for: nothing of role {role} accepts TCP on port {port} at {' '.join(addresses)}")
    if not said:
        print(f"waiting for role {role} on port {port} at {' '.join(addresses)}", flush=True)
        said = True
    time.sleep(1)
