"""What staff pages read of the people held: a page of people with their consents and
template counts (identities decrypted by the vault), templates about to expire (R8), and the
open review requests. Reads only; the caller records the display of identities (R11)."""

from __future__ import annotations

import sqlalchemy as sa

from faceguard import db
from faceguard.consent import records as consents
from faceguard.errors import NotFound, VaultError
from faceguard.results import ConsentRow, ExpiringRow, Stats, SubjectRow
from faceguard.vault.templates import Vault


def people(conn: sa.Connection, vault: Vault, *, offset: int, limit: int
           ) -> tuple[list[SubjectRow], int]:
    """A page of the active people, newest first, and how many there are."""
    active = db.subjects.c.status == "active"
    total = conn.execute(sa.select(sa.func.count()).select_from(db.subjects)
                         .where(active)).scalar_one()
    rows = conn.execute(sa.select(db.subjects).where(active)
                        .order_by(db.subjects.c.created_at.desc(), db.subjects.c.id)
                        .offset(offset).limit(limit)).fetchall()
    counts = {r.subject_id: int(r.n) for r in conn.execute(
        sa.select(db.templates.c.subject_id, sa.func.count().label("n"))
        .where(db.templates.c.subject_id.in_([r.id for r in rows]))
        .group_by(db.templates.c.subject_id))}
    out = []
    for row in rows:
        try:
            identity = vault.identity(conn, row.id)
            external, name = identity.external_id, identity.name
        except (NotFound, VaultError):
            external, name = "(unreadable)", "(unreadable)"
        out.append(SubjectRow(
            row.id, external, name, row.created_at, row.last_seen_at,
            int(counts.get(row.id, 0)),
            [ConsentRow(c.purpose, c.status, c.method, c.minor, c.granted_at, c.ended_at,
                        c.language)
             for c in consents.consents_of(conn, row.id)]))
    return out, int(total)


def expiring(conn: sa.Connection, *, until: str, limit: int) -> list[ExpiringRow]:
    """Templates whose retention ends by ``until`` (R8), per person and purpose, soonest
    first."""
    t = db.templates.c
    rows = conn.execute(
        sa.select(t.subject_id, t.purpose, sa.func.min(t.expires_at).label("expires_at"),
                  sa.func.count().label("n"))
        .where(t.expires_at <= until).group_by(t.subject_id, t.purpose)
        .order_by(sa.func.min(t.expires_at)).limit(limit))
    return [ExpiringRow(r.subject_id, r.purpose, r.expires_at, int(r.n)) for r in rows]


def open_reviews(conn: sa.Connection) -> int:
    """How many human-review requests wait for an answer (R17)."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(db.reviews).where(
        db.reviews.c.status == "open")).scalar_one())


def stats(conn: sa.Connection) -> Stats:
    """Active people and stored templates per purpose."""
    people = conn.execute(sa.select(sa.func.count()).select_from(db.subjects)
                          .where(db.subjects.c.status == "active")).scalar_one()
    per_purpose = {r.purpose: int(r.n) for r in conn.execute(
        sa.select(db.templates.c.purpose, sa.func.count().label("n"))
        .group_by(db.templates.c.purpose))}
    return Stats(int(people), per_purpose)


def galleries(conn: sa.Connection, now: str) -> dict[str, dict[int, int]]:
    """Per purpose, how many people hold each number of live templates
    (``{purpose: {pictures: people}}``): the 1:N gallery sizes of R17."""
    per_person = (sa.select(db.templates.c.purpose, sa.func.count().label("k"))
                  .where(db.templates.c.expires_at > now)
                  .group_by(db.templates.c.purpose, db.templates.c.subject_id).subquery())
    out: dict[str, dict[int, int]] = {}
    for row in conn.execute(sa.select(per_person.c.purpose, per_person.c.k,
                                      sa.func.count().label("n"))
                            .group_by(per_person.c.purpose, per_person.c.k)):
        out.setdefault(row.purpose, {})[int(row.k)] = int(row.n)
    return out
