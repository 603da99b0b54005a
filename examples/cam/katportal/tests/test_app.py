import json

from tornado.testing import AsyncHTTPTestCase

from katportal.app import make_app, proxy_address


class PortalTest(AsyncHTTPTestCase):
    def get_app(self):
        # Nothing listens on port 1: the antenna page says the proxy is unreachable.
        return make_app(proxy=("127.0.0.1", 1))

    def test_health(self):
        response = self.fetch("/health")
        self.assertEqual(response.code, 200)
        self.assertEqual(json.loads(response.body)["status"], "ok")

    def test_status_lists_sensors(self):
        body = json.loads(self.fetch("/status").body)
        self.assertEqual(sorted(body["sensors"]), ["portal.requests", "subarray_1.progress"])

    def test_antenna_without_a_proxy_is_a_bad_gateway(self):
        response = self.fetch("/antenna/m000")
        self.assertEqual(response.code, 502)
        self.assertIn("unreachable", json.loads(response.body)["error"])

    def test_the_proxy_is_found_on_the_monctl_node(self):
        self.assertEqual(proxy_address({"LASTMILE_ROLE_MONCTL": "127.77.0.2 127.77.0.5"}), ("127.77.0.2", 7150))
        self.assertEqual(proxy_address({}), ("127.0.0.1", 7150))


if __name__ == "__main__":
    import unittest
    unittest.main()
