import unittest

from katcp import Message
from katcomp.supervisor import Supervisor


class SupervisorTest(unittest.TestCase):
    def test_health_follows_components(self):
        sup = Supervisor("monctl", ["a", "b"])
        self.assertFalse(sup.healthy())
        sup.mark("a", "running")
        sup.mark("b", "running")
        self.assertTrue(sup.healthy())
        replies = sup.dispatch(Message.request("components"))
        self.assertEqual([m.args for m in replies[:-1]], [["a", "running"], ["b", "running"]])


if __name__ == "__main__":
    unittest.main()
