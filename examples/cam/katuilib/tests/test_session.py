import unittest

from katuilib import ObservationSession, SessionError


class SessionTest(unittest.TestCase):
    def test_plan_and_run(self):
        session = ObservationSession(1, ["m000", "m001"])
        session.track("A, radec, 19:39:25.0, -63:42:45.6", 60).track("B, radec, 13:31:08.3, 30:30:33.0", 30)
        self.assertGreater(session.estimated_duration(), 90)
        self.assertEqual(session.run(), ["A", "B"])
        self.assertEqual(session.progress.value, 1.0)

    def test_errors(self):
        with self.assertRaises(SessionError):
            ObservationSession(2, [])
        with self.assertRaises(SessionError):
            ObservationSession(1, ["m000"]).run()
        with self.assertRaises(SessionError):
            ObservationSession(1, ["m000"]).track("A, radec, 0, 0", 0)


if __name__ == "__main__":
    unittest.main()
