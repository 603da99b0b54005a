"""Targets described as ``name, radec, ra, dec`` strings, as operators write them."""

from katmisc import RateLimiter  # noqa: F401  (katpoint shares the helper set with the services)

from .angles import angular_separation, deg2rad, parse_sexagesimal


class TargetError(ValueError):
    """A target description that cannot be parsed."""


class Target:
    def __init__(self, name, ra_deg, dec_deg, tags=("radec",)):
        if not -90.0 <= dec_deg <= 90.0:
            raise TargetError(f"declination {dec_deg} out of range")
        self.name, self.ra_deg, self.dec_deg, self.tags = name, ra_deg % 360.0, dec_deg, tuple(tags)

    @classmethod
    def parse(cls, description):
        fields = [f.strip() for f in description.split(",")]
        if len(fields) != 4 or fields[1].split()[0] != "radec":
            raise TargetError(f"expected 'name, radec, ra, dec', got {description!r}")
        try:
            ra = parse_sexagesimal(fields[2]) * 15.0  # hours -> degrees
            dec = parse_sexagesimal(fields[3])
        except ValueError as err:
            raise TargetError(str(err)) from None
        return cls(fields[0], ra, dec, tags=fields[1].split())

    def separation(self, other):
        """Angle between two targets in degrees."""
        rad = angular_separation(deg2rad(self.ra_deg), deg2rad(self.dec_deg),
                                 deg2rad(other.ra_deg), deg2rad(other.dec_deg))
        return float(rad) * 180.0 / 3.141592653589793

    def __repr__(self):
        return f"Target({self.name!r}, ra={self.ra_deg:.4f}, dec={self.dec_deg:.4f})"
