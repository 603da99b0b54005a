import unittest

from katconf import ConfigError, bundled_system
from katconf.config import parse_system


class ConfigTest(unittest.TestCase):
    def test_bundled_system_loads(self):
        system = bundled_system()
        self.assertEqual(system.site, "karoo")
        self.assertEqual([r.name for r in system.receptors], ["m000", "m001", "m002", "m003"])
        self.assertEqual(system.subarrays[1], ("m000", "m001"))
        self.assertIn("katproxy", system.nodes["proxy"])

    def test_unknown_subarray_member_is_an_error(self):
        data = {"site": "x", "receptors": [{"name": "m0", "latitude": 0, "longitude": 0, "altitude": 0}],
                "subarrays": {1: ["m0", "m9"]}}
        with self.assertRaisesRegex(ConfigError, "unknown receptors"):
            parse_system(data)

    def test_missing_key_names_the_key(self):
        with self.assertRaisesRegex(ConfigError, "'site'"):
            parse_system({"receptors": []})


if __name__ == "__main__":
    unittest.main()
