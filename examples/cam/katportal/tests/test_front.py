from katportal.front import config


def test_the_front_listens_on_the_node_address_and_proxies_to_the_portal_there():
    text = config("127.77.0.4", 8000, 8080, "/run/front")
    assert "listen 127.77.0.4:8000;" in text
    assert "proxy_pass http://127.77.0.4:8080;" in text
    # Nothing of Debian's default site: no port 80, no path outside the run folder.
    assert ":80;" not in text and "/var/" not in text
    assert "pid /run/front/nginx.pid;" in text
