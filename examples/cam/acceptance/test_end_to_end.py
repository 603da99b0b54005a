"""End-to-end behaviour of the deployed example system, from this host, across its nodes.

aqf-run gives the nodes' addresses as deploy-lxc wrote them: LASTMILE_ROLE_<ROLE> holds the
addresses of the nodes with that role.
"""

import json
import os
import socket
import urllib.request

import pytest


def first(role):
    addresses = os.environ.get(f"LASTMILE_ROLE_{role.upper()}", "").split()
    assert addresses, f"no node has role {role}"
    return addresses[0]


def katcp(host, port, request):
    """Send one KATCP request; return the lines up to its reply."""
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(f"?{request}\n".encode())
        data = b""
        name = request.split()[0]
        while not any(line.startswith(f"!{name}") for line in data.decode().splitlines()):
            chunk = sock.recv(4096)
            assert chunk, "the connection closed before the reply"
            data += chunk
    return data.decode().splitlines()


@pytest.mark.requirement("CAM-R-103")
def test_a_request_through_the_proxy_reaches_the_simulated_antenna():
    lines = katcp(first("monctl"), 7150, "proxy m000 sensor-value")
    assert any(line.startswith("!proxy ok") for line in lines), lines
    assert any("m000.ap.actual-elev" in line for line in lines), lines


@pytest.mark.requirement("CAM-R-103")
def test_the_simulator_is_not_on_the_monctl_node():
    try:
        socket.create_connection((first("monctl"), 7149), timeout=2).close()
    except OSError:
        return
    raise AssertionError("something listens on port 7149 of the monctl node")


@pytest.mark.requirement("CAM-R-103", "CAM-R-104")
def test_the_portal_shows_the_antenna_it_reaches_through_the_proxy():
    with urllib.request.urlopen(f"http://{first('portal')}:8080/antenna/m000", timeout=10) as answer:
        body = json.load(answer)
    assert body["antenna"] == "m000"
    assert "m000.ap.actual-elev" in body["sensors"], body


@pytest.mark.requirement("CAM-R-106")
def test_the_portal_answers_through_nginx_on_its_node():
    with urllib.request.urlopen(f"http://{first('portal')}:8000/antenna/m000", timeout=10) as answer:
        server = answer.headers.get("Server", "")
        body = json.load(answer)
    assert server.startswith("nginx/"), server
    assert body["antenna"] == "m000"
