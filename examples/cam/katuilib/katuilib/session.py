"""An observation session: a plan of target tracks, checked before anything moves."""

from katcore import Sensor
from katpoint import Target


class SessionError(RuntimeError):
    """A plan that cannot be executed."""


class ObservationSession:
    SLEW_RATE_DEG_PER_S = 2.0

    def __init__(self, subarray, receptors):
        if not receptors:
            raise SessionError(f"subarray {subarray} has no receptors")
        self.subarray, self.receptors = subarray, tuple(receptors)
        self.plan = []
        self.progress = Sensor("float", f"subarray_{subarray}.progress", limits=(0.0, 1.0))
        self.progress.set(0.0)

    def track(self, description, duration):
        if duration <= 0:
            raise SessionError("track duration must be positive")
        self.plan.append((Target.parse(description), float(duration)))
        return self

    def estimated_duration(self):
        total, previous = 0.0, None
        for target, duration in self.plan:
            if previous is not None:
                total += previous.separation(target) / self.SLEW_RATE_DEG_PER_S
            total += duration
            previous = target
        return total

    def run(self, clock_advance=lambda seconds: None):
        if not self.plan:
            raise SessionError("nothing to observe")
        done = 0.0
        total = self.estimated_duration()
        for target, duration in self.plan:
            clock_advance(duration)
            done += duration
            self.progress.set(min(1.0, done / total))
        self.progress.set(1.0)
        return [t.name for t, _ in self.plan]
