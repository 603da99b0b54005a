import json

from tornado.testing import AsyncHTTPTestCase

from katportal.app import make_app


class PortalTest(AsyncHTTPTestCase):
    def get_app(self):
        return make_app()

    def test_health(self):
        response = self.fetch("/health")
        self.assertEqual(response.code, 200)
        self.assertEqual(json.loads(response.body)["status"], "ok")

    def test_status_lists_sensors(self):
        body = json.loads(self.fetch("/status").body)
        self.assertEqual(sorted(body["sensors"]), ["portal.requests", "subarray_1.progress"])


if __name__ == "__main__":
    import unittest
    unittest.main()
