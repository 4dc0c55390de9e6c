"""The named operating points a purpose may choose, by target false-match rate (FMR).

Policy names them (a purpose's ``operating_point`` in the deployment file); an engine's
calibration must provide a threshold for each. Both read this table, so neither imports the
other.
"""

from __future__ import annotations

#: Named operating points by target false-match rate (FMR).
OPERATING_POINT_NAMES: dict[str, float] = {
    "convenience": 1e-2,
    "access-control": 1e-3,
    "high-security": 1e-4,
    "payment": 1e-5,
}
