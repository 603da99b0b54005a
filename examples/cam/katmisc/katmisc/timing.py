"""A token-bucket rate limiter for sensor updates."""

import time


class RateLimiter:
    def __init__(self, rate, burst=1, clock=time.monotonic):
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be positive and burst at least 1")
        self.rate, self.burst, self._clock = float(rate), burst, clock
        self._tokens = float(burst)
        self._last = clock()

    def allow(self):
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False
