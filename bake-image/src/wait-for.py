"""Wait until a node of each role accepts TCP on its port, then run the service:
wait-for.py +ROLE:PORT ADDRESS... [+ROLE:PORT ADDRESS...] -- COMMAND ARG...

Written by bake-image into the release candidate; the ExecStart of a service that says
`wait_for = ["ROLE:PORT"]`. The wait is inside the service's own process (systemd sees the unit
started, so the node finishes booting, and a service still waiting is told from a stuck boot):
once every role answers, it becomes COMMAND (same process). Exits 1 after 300 s without an
answer (systemd then restarts the service, which waits again)."""
import os
import socket
import sys
import time

args = sys.argv[1:]
if "--" not in args:
    sys.exit("wait-for: usage: wait-for.py +ROLE:PORT ADDRESS... -- COMMAND ARG...")
split = args.index("--")
waits, command = [], args[split + 1:]
for word in args[:split]:
    if word.startswith("+"):
        role, _, port = word[1:].rpartition(":")
        waits.append((role, int(port), []))
    elif waits:
        waits[-1][2].append(word)
if not command:
    sys.exit("wait-for: no command after --")


def answers(addresses, port):
    for address in addresses:
        try:
            socket.create_connection((address, port), timeout=2).close()
            return True
        except OSError:
            pass
    return False


deadline = time.monotonic() + 300
for role, port, addresses in waits:
    if not addresses:
        sys.exit(f"wait-for: no node has role {role} (LASTMILE_ROLE_{role.upper()} is empty)")
    said = False
    while not answers(addresses, port):
        if time.monotonic() > deadline:
            sys.exit(f"wait-for: nothing of role {role} accepts TCP on port {port} at {' '.join(addresses)}")
        if not said:
            print(f"waiting for role {role} on port {port} at {' '.join(addresses)}", flush=True)
            said = True
        time.sleep(1)
    if said:
        print(f"role {role} answers on port {port}", flush=True)
os.execv(command[0], command)
