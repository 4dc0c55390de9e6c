"""What to do about an error, said in the interface the person is using.

The library's messages say what is wrong and cite the rule; they name no command or route,
because the same refusal reaches a command line, a REST client and a page. Each shell adds
the fix in its own terms: ``fix_for(error, "cli")`` names a ``faceguard`` command,
``"rest"`` a route of the API, ``"page"`` a page of the service. Every command and route
named here exists (``tests/test_fixes.py`` checks them against the CLI and the OpenAPI).
"""

from __future__ import annotations

from typing import Literal

from faceguard.errors import (
    ConsentError,
    FaceguardError,
    LivenessError,
    MasterKeyMissing,
    NoticeError,
    PolicyError,
)

Interface = Literal["cli", "rest", "page"]

_P = "{purpose}"
_FIXES: dict[str, dict[Interface, str]] = {
    "notice": {
        "cli": f"publish it: faceguard notice --purpose {_P}",
        "rest": f"publish it with an admin key: POST /api/v1/notices/{_P}",
        "page": f"an admin publishes it (POST /api/v1/notices/{_P}, or faceguard notice "
                f"--purpose {_P} on the server)",
    },
    "consent": {
        "cli": f"record it: faceguard consent grant --subject ID --name NAME --purpose {_P} "
               "--method written --evidence REF",
        "rest": "record it with an operator key: POST /api/v1/consents {\"external_id\", "
                f"\"name\", \"purpose\": \"{_P}\", \"method\", \"evidence\"}}; or the person "
                "consents at the kiosk (/kiosk)",
        "page": "the person consents at the kiosk (/kiosk), or an operator records the "
                "consent with the photos (/enroll)",
    },
    "assessment": {
        "cli": "draft it with faceguard assess --init, let the DPO complete assessment.toml, "
               "then faceguard assess --approve --by NAME",
        "rest": "the DPO drafts, completes and approves it in the pages, at /assessment (an "
                "admin key), or on the server with faceguard assess --init and faceguard "
                "assess --approve --by NAME; GET /api/v1/check shows where it stands",
        "page": "the DPO (an admin key) drafts it, completes each section and approves it on "
                "the Impact assessment page (/assessment)",
    },
    "liveness": {
        "cli": "the command line cannot film a live person: enroll at the kiosk (faceguard "
               "serve, then /kiosk) or over REST with a liveness answer; outside the cn "
               "packs deployment.liveness = \"off\" in faceguard.toml turns the check off",
        "rest": "ask for a challenge, POST /api/v1/liveness/challenges, and send the frames "
                "filmed as JSON to this route (docs/LIVENESS.md; the kiosk /kiosk does it); "
                "outside the cn packs deployment.liveness = \"off\" turns the check off",
        "page": "the kiosk (/kiosk) films the answer to a challenge",
    },
    "check": {
        "cli": "faceguard check lists every violation with what to change",
        "rest": "GET /api/v1/check lists every violation with its rule",
        "page": "the dashboard (/dashboard) lists every violation with its rule",
    },
    "master-key": {
        "cli": "faceguard init DATA_DIR makes one; faceguard serve --dev in an empty folder "
               "starts a trial",
        "rest": "the service cannot start without one: faceguard init DATA_DIR",
        "page": "the service cannot start without one: faceguard init DATA_DIR",
    },
}


def fix_kind(exc: FaceguardError) -> str | None:
    """Which fix applies to ``exc`` (a key of the table above), or None."""
    if isinstance(exc, MasterKeyMissing):
        return "master-key"
    if isinstance(exc, NoticeError):
        return "notice"
    if isinstance(exc, LivenessError):
        return "liveness" if exc.decision == "required" else None
    if exc.rule == "R10":
        return "assessment"
    if isinstance(exc, ConsentError):
        return "consent"
    if isinstance(exc, PolicyError) and "fails its check" in exc.message:
        return "check"
    return None


def fix_text(kind: str, interface: Interface, purpose: str | None = None) -> str:
    return _FIXES[kind][interface].replace(_P, purpose or "PURPOSE")


def fix_for(exc: FaceguardError, interface: Interface, purpose: str | None = None
            ) -> str | None:
    """The fix for ``exc`` in ``interface``'s terms, or None when there is nothing to do
    but correct the input the message names."""
    kind = fix_kind(exc)
    return None if kind is None else fix_text(kind, interface, purpose)
