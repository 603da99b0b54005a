import io
import unittest
from contextlib import redirect_stdout
from unittest import mock

from katobs.cli import main, read_targets
from katuilib import SessionError


class CliTest(unittest.TestCase):
    def test_read_targets(self):
        lines = ["# calibrators", "A, radec, 1:00:00, -30:00:00 | 60", ""]
        self.assertEqual(list(read_targets(lines)), [("A, radec, 1:00:00, -30:00:00", 60.0)])
        with self.assertRaises(SessionError):
            list(read_targets(["no duration"]))

    def test_main_runs_a_plan(self):
        targets = io.StringIO("A, radec, 1:00:00, -30:00:00 | 60\n")
        out = io.StringIO()
        with mock.patch("argparse.FileType.__call__", return_value=targets), redirect_stdout(out):
            self.assertEqual(main(["targets.txt"]), 0)
        self.assertIn("observed 1 targets", out.getvalue())


if __name__ == "__main__":
    unittest.main()
