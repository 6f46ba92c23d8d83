"""Where an approximate point goes: a small, deterministic spread around a centroid.

Sources often name only a commune (or a district); every producer there would otherwise sit on
the same centroid, one marker hiding the others.  Each producer is moved from the centroid by
an offset computed from its name alone (SHA-256): 150 to 600 m, at an angle of its own.  So
the same producer always lands on the same point whatever else is imported, its products stay
together, and different producers almost never share a point (the shipped data's test checks
that none do).  The point keeps `location_precision` commune or district: it is not exact.
"""
from __future__ import annotations

import hashlib
import math

from pyproj import Geod

from .text import fold

MIN_M, MAX_M = 150.0, 600.0
_GEOD = Geod(ellps="WGS84")


def spread(lon: float, lat: float, key: str) -> tuple[float, float]:
    """(lon, lat) moved by the offset of `key` (a producer's name; accents and case folded)."""
    digest = hashlib.sha256(fold(key).encode("utf-8")).digest()
    angle = int.from_bytes(digest[:4], "big") / 2**32 * 2 * math.pi
    metres = MIN_M + int.from_bytes(digest[4:8], "big") / 2**32 * (MAX_M - MIN_M)
    lon2, lat2, _ = _GEOD.fwd(lon, lat, math.degrees(angle), metres)
    return lon2, lat2
