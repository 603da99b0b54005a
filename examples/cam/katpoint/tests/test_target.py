import math
import unittest

from katpoint import Target, TargetError, format_sexagesimal, parse_sexagesimal


class AnglesTest(unittest.TestCase):
    def test_sexagesimal_round_trip(self):
        value = parse_sexagesimal("-30:42:39.8")
        self.assertAlmostEqual(value, -30.711055, places=5)
        self.assertEqual(format_sexagesimal(value), "-30:42:39.8")


class TargetTest(unittest.TestCase):
    def test_parse_and_separation(self):
        a = Target.parse("PKS 1934-63, radec, 19:39:25.0, -63:42:45.6")
        b = Target.parse("3C 286, radec, 13:31:08.3, 30:30:33.0")
        self.assertEqual(a.name, "PKS 1934-63")
        self.assertAlmostEqual(a.separation(a), 0.0, places=6)
        sep = a.separation(b)
        self.assertTrue(0 < sep < 180 and math.isfinite(sep))
        self.assertAlmostEqual(sep, b.separation(a), places=9)

    def test_bad_descriptions(self):
        for text in ["Sun, special", "x, radec, 12:00:00", "x, radec, aa, 0", "x, radec, 0, 95"]:
            with self.assertRaises(TargetError):
                Target.parse(text)


if __name__ == "__main__":
    unittest.main()
