"""Every kind of event the processing record holds (R11): one registry, each operation with
the rules behind it and what it records.

Writers name an operation by its member (``Op.FACE_VERIFIED``); readers that pick events by
kind (explanations, the dashboard's alarms, the integrity check) use the same members and the
groups below, never a string of their own. ``AuditLog.append`` refuses a name that is not
here, so a new kind of event is added here first, with its rules and its meaning.
"""

from __future__ import annotations

from enum import StrEnum


class Op(StrEnum):
    """An operation of the processing record; ``rules`` are the rule IDs it serves and
    ``meaning`` says what one event of it records."""

    rules: tuple[str, ...]
    meaning: str

    def __new__(cls, value: str, rules: tuple[str, ...], meaning: str) -> Op:
        member = str.__new__(cls, value)
        member._value_ = value
        member.rules = rules
        member.meaning = meaning
        return member

    # ---- faces ------------------------------------------------------------------------
    FACES_DETECTED = ("faces.detected", ("R9", "R11"),
                      "the faces of a photo boxed for an operator to choose one to enroll "
                      "(nothing recognised or kept)")
    TEMPLATE_ENROLLED = ("template.enrolled", ("R3", "R8", "R9"),
                         "templates stored for a purpose from a consented enrollment")
    TEMPLATE_CORRECTED = ("template.corrected", ("R3", "R8", "R9", "R16"),
                          "a person's templates for a purpose replaced (correction)")
    TEMPLATE_EXPIRED = ("template.expired", ("R8", "R18"),
                        "templates past their retention deleted by a sweep")
    FACE_VERIFIED = ("face.verified", ("R1", "R3"),
                     "a 1:1 decision (match or no-match), or its refusal")
    FACE_IDENTIFIED = ("face.identified", ("R1", "R3", "R17"),
                       "a 1:N decision (match, unknown or needs-review), or its refusal")
    MEDIA_REDACTED = ("media.redacted", ("R9", "R20"), "faces covered in an image or video")
    # ---- liveness ---------------------------------------------------------------------
    LIVENESS_PASSED = ("liveness.passed", ("R26",), "an answer to a challenge judged live")
    LIVENESS_FAILED = ("liveness.failed", ("R26",), "an answer not judged live (retry)")
    LIVENESS_ATTACK = ("liveness.attack", ("R26",), "a presentation attack detected")
    LIVENESS_LOCKOUT = ("liveness.lockout", ("R26",), "a lockout after repeated failures")
    LIVENESS_REFUSED = ("liveness.refused", ("R26",), "an attempt refused while locked out")
    LIVENESS_ISSUED = ("liveness.issued", ("R26",), "a liveness challenge issued")
    LIVENESS_EXPIRED = ("liveness.expired", ("R26",), "a challenge expired unanswered (a failure)")
    # ---- consent ----------------------------------------------------------------------
    NOTICE_PUBLISHED = ("notice.published", ("R2",), "a new version of a purpose's notice")
    CONSENT_GRANTED = ("consent.granted", ("R3", "R5"), "a separate consent recorded")
    CONSENT_WITHDRAWN = ("consent.withdrawn", ("R3", "R18"),
                         "a purpose's consent ended by its subject; its templates deleted")
    CONSENT_WITHDRAWAL_REAPPLIED = ("consent.withdrawal_reapplied", ("R3", "R18"),
                                    "a withdrawal undone by a restored copy, made again")
    CONSENT_DECLINED = ("consent.declined", ("R4", "R6"),
                        "a person declined consent at a kiosk (never asked again)")
    PURPOSE_ENDED = ("purpose.ended", ("R8", "R18"),
                     "a purpose's consent ended by a sweep (expired or no longer declared)")
    SHARING_BASIS_RECORDED = ("sharing.basis_recorded", ("R20", "R21"),
                              "a recipient's consent or legal mechanism for sharing")
    TEMPLATES_SHARED = ("templates.shared", ("R20", "R21"),
                        "templates sealed for a recipient on a recorded basis")
    # ---- rights and deletion ----------------------------------------------------------
    SUBJECT_ERASED = ("subject.erased", ("R18",),
                      "a person erased: key destroyed, templates deleted, certificate issued")
    SUBJECT_ERASURE_REAPPLIED = ("subject.erasure_reapplied", ("R18",),
                                 "an erasure undone by a restored copy, made again")
    SUBJECT_EXPORTED = ("subject.exported", ("R16",), "everything held about a person read")
    IDENTITY_DISPLAYED = ("identity.displayed", ("R11", "R14"),
                          "names and external IDs decrypted to be shown to staff")
    DECISION_EXPLAINED = ("decision.explained", ("R16", "R17"), "a decision explained")
    REVIEW_REQUESTED = ("review.requested", ("R17",), "human review of a decision asked")
    REVIEW_ANSWERED = ("review.answered", ("R17",), "a human review answered")
    SERVICE_DECOMMISSIONED = ("service.decommissioned", ("R18", "R19"),
                              "the service ended: everyone erased, a summary certificate")
    STORE_BACKED_UP = ("store.backed_up", ("R25",), "a backup of the stores made")
    KEYS_MASTER_ROTATED = ("keys.master_rotated", ("R14",),
                           "every data key re-wrapped under a new master key; the old retired")
    STORE_RESTORED = ("store.restored", ("R18", "R25"),
                      "a backup put back; the erasure ledger re-applied")
    # ---- governance -------------------------------------------------------------------
    ASSESSMENT_DRAFTED = ("assessment.drafted", ("R10",), "an impact assessment drafted")
    ASSESSMENT_EDITED = ("assessment.edited", ("R10",),
                         "a section of the impact assessment written by the DPO")
    ASSESSMENT_APPROVED = ("assessment.approved", ("R10",), "an impact assessment approved")
    DEPLOYMENT_RELOADED = ("deployment.reloaded", ("R10", "R11"),
                           "a running process found its deployment file changed: taken up "
                           "(ok), not valid (rejected) or needing a restart (deferred)")
    FILING_THRESHOLD_CROSSED = ("filing.threshold_crossed", ("R15",),
                                "the people count reached the pack's filing threshold")
    FILING_PACKET_MADE = ("filing.packet_made", ("R15",), "the filing packet generated")
    # ---- access to the service --------------------------------------------------------
    ACCESS_DENIED = ("access.denied", ("R14", "R25"), "a request refused for its role")
    ACCESS_LOCKED_OUT = ("access.locked_out", ("R25",),
                         "a client or key locked out after failed authentication")
    ACCESS_LOGIN = ("access.login", ("R25",), "a browser session opened")
    ACCESS_KEY_CREATED = ("access.key_created", ("R14", "R25"), "an API key created")
    ACCESS_KEY_REVOKED = ("access.key_revoked", ("R14", "R25"), "an API key revoked")


#: Automated decisions about a person (explanations and human review apply, R16/R17).
DECISIONS = (Op.FACE_VERIFIED, Op.FACE_IDENTIFIED, Op.TEMPLATE_ENROLLED)
#: What the dashboard raises as an alarm (R26 attacks and lockouts, R25 lockouts).
ALARMS = (Op.ACCESS_LOCKED_OUT, Op.LIVENESS_ATTACK, Op.LIVENESS_LOCKOUT, Op.LIVENESS_REFUSED)
#: Events that end a consent (the integrity check compares active consents with them).
CONSENT_ENDINGS = (Op.CONSENT_WITHDRAWN, Op.PURPOSE_ENDED, Op.CONSENT_WITHDRAWAL_REAPPLIED)
