import unittest

from katuilib import ObservationSession
from katulib.report import summarise


class ReportTest(unittest.TestCase):
    def test_summary_lists_targets(self):
        session = ObservationSession(3, ["m000", "m001"])
        session.track("Cal, radec, 19:39:25.0, -63:42:45.6", 120)
        text = summarise(session)
        self.assertIn("subarray 3: 2 receptors", text)
        self.assertIn("Cal", text)
        self.assertIn("total (with slews)", text)


if __name__ == "__main__":
    unittest.main()
