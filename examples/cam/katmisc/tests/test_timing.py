import unittest

from katmisc import RateLimiter


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class RateLimiterTest(unittest.TestCase):
    def test_burst_then_refill(self):
        clock = FakeClock()
        limiter = RateLimiter(rate=2, burst=2, clock=clock)
        self.assertEqual([limiter.allow() for _ in range(3)], [True, True, False])
        clock.now = 0.5
        self.assertTrue(limiter.allow())
        self.assertFalse(limiter.allow())

    def test_rejects_bad_rates(self):
        with self.assertRaises(ValueError):
            RateLimiter(rate=0)


if __name__ == "__main__":
    unittest.main()
