"""Angles: degrees, radians and ``dd:mm:ss.s`` strings."""

import numpy as np


def deg2rad(deg):
    return np.asarray(deg, dtype=float) * (np.pi / 180.0)


def rad2deg(rad):
    return np.asarray(rad, dtype=float) * (180.0 / np.pi)


def parse_sexagesimal(text):
    """``-30:42:39.8`` -> -30.7110555..."""
    text = text.strip()
    sign = -1.0 if text.startswith("-") else 1.0
    parts = [float(p) for p in text.lstrip("+-").split(":")]
    if not 1 <= len(parts) <= 3:
        raise ValueError(f"not a sexagesimal angle: {text!r}")
    value = sum(p / 60.0 ** i for i, p in enumerate(parts))
    return sign * value


def format_sexagesimal(value, decimals=1):
    sign = "-" if value < 0 else ""
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = (value - degrees - minutes / 60.0) * 3600
    return f"{sign}{degrees}:{minutes:02d}:{seconds:0{3 + decimals}.{decimals}f}"


def angular_separation(ra1, dec1, ra2, dec2):
    """Great-circle distance between two (ra, dec) positions, all in radians (Vincenty formula)."""
    dra = np.asarray(ra2) - np.asarray(ra1)
    num = np.hypot(np.cos(dec2) * np.sin(dra),
                   np.cos(dec1) * np.sin(dec2) - np.sin(dec1) * np.cos(dec2) * np.cos(dra))
    den = np.sin(dec1) * np.sin(dec2) + np.cos(dec1) * np.cos(dec2) * np.cos(dra)
    return np.arctan2(num, den)
