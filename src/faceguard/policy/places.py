"""The closed list of place types a deployment may name (``deployment.place``).

Each place type belongs to one ``PlaceCategory``:

- ``PRIVATE`` places are refused outright, with no override (R13: FRM 13; CC 1033). They are
  in the list only so that naming one is refused with its rule, not with "unknown place".
- ``PUBLIC`` places are public places in themselves (R12: FRM 13; PIPL 26): a deployment there
  must declare ``public_place = true``, the public-safety purpose only, a collection area and
  signage evidence.
- ``SERVICE`` places are entrances, counters and premises where people deal with the operator
  face to face. They are not public places unless the deployment says so
  (``public_place = true``), e.g. a camera that watches a hotel lobby as a whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PlaceCategory(StrEnum):
    """How the law treats a kind of place.

    ``PRIVATE``: private spaces where devices are forbidden (FRM 13; CC 1033: "private space").
    ``PUBLIC``: public places, where face recognition serves public safety only, within a
    reasonable area and with conspicuous signs (FRM 13; PIPL 26).
    ``SERVICE``: other premises (entrances, counters, lockers); SPC 2 lists unlawful use in
    hotels, malls, banks and stations among the infringements (R23).
    """

    PRIVATE = "private"
    PUBLIC = "public"
    SERVICE = "service"


@dataclass(frozen=True)
class PlaceType:
    """One place type: its name in ``faceguard.toml``, its category and what it covers."""

    name: str
    category: PlaceCategory
    description: str
    source: str

    @property
    def private(self) -> bool:
        """True for a private space (R13: refused, no override)."""
        return self.category is PlaceCategory.PRIVATE

    @property
    def public(self) -> bool:
        """True for a place that is a public place in itself (R12)."""
        return self.category is PlaceCategory.PUBLIC


_S, _P, _X = PlaceCategory.SERVICE, PlaceCategory.PUBLIC, PlaceCategory.PRIVATE
_GATE = "FRM 10, 11; SPC 10"  # another way in must remain (R6)
_PUBLIC = "FRM 13; PIPL 26"

#: Every place type, by its name in ``deployment.place``.
PLACES: dict[str, PlaceType] = {
    p.name: p
    for p in (
        PlaceType("residential-entrance", _S, "Gate or door of a residential community.", _GATE),
        PlaceType("office-entrance", _S, "Entrance or turnstile of an office building.", _GATE),
        PlaceType("campus-gate", _S, "Gate of a university or company campus.", _GATE),
        PlaceType("school-gate", _S, "Gate of a school (many under-14s: R5).", "FRM 7; PIPL 31"),
        PlaceType("factory-gate", _S, "Gate or attendance point of a factory.", _GATE),
        PlaceType("construction-site", _S, "Attendance point of a construction site.", _GATE),
        PlaceType("hotel-lobby", _S, "Check-in desk of a hotel; a camera covering the lobby as "
                  "a whole is a public-place deployment.", "SPC 2; FRM 13"),
        PlaceType("bank-counter", _S, "Counter or self-service machine in a bank.", "SPC 2"),
        PlaceType("parcel-locker", _S, "Self-service parcel locker.", _GATE),
        PlaceType("payment-counter", _S, "Checkout where a payer confirms a payment.", _GATE),
        PlaceType("exam-hall", _S, "Candidates' identity check at an examination.", "FRM 4"),
        PlaceType("shopping-mall", _P, "Concourse of a shopping mall.", f"{_PUBLIC}; SPC 2"),
        PlaceType("transport-station", _P, "Railway, metro or bus station.", f"{_PUBLIC}; SPC 2"),
        PlaceType("airport", _P, "Airport terminal.", f"{_PUBLIC}; SPC 2"),
        PlaceType("hospital", _P, "Halls and waiting areas of a hospital.", _PUBLIC),
        PlaceType("stadium", _P, "Stadium or arena.", f"{_PUBLIC}; SPC 2"),
        PlaceType("public-street", _P, "A street or road open to everyone.", _PUBLIC),
        PlaceType("public-square", _P, "A square, park or plaza open to everyone.", _PUBLIC),
        PlaceType("hotel-room", _X, "Guest room of a hotel.", "FRM 13; CC 1033"),
        PlaceType("public-bathroom", _X, "Public bathroom or bath house.", "FRM 13; CC 1033"),
        PlaceType("changing-room", _X, "Changing or fitting room.", "FRM 13; CC 1033"),
        PlaceType("toilet", _X, "Toilet.", "FRM 13; CC 1033"),
        PlaceType("dormitory-room", _X, "Room of a dormitory.", "CC 1033"),
    )
}


def place_type(name: str) -> PlaceType:
    """The place type called ``name``; ``KeyError`` names the known ones if there is none."""
    try:
        return PLACES[name]
    except KeyError:
        raise KeyError(
            f"unknown place type {name!r}; known place types: {', '.join(sorted(PLACES))}"
        ) from None


def private_places() -> list[str]:
    """Names of the private spaces (R13), sorted."""
    return sorted(n for n, p in PLACES.items() if p.private)


def public_places() -> list[str]:
    """Names of the places that are public places in themselves (R12), sorted."""
    return sorted(n for n, p in PLACES.items() if p.public)
