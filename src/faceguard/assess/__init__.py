"""Impact assessment (R10, R23), filing (R15) and protection-level report (R24, R25).

Pure functions over plain inputs; the ``Faceguard`` facade supplies the deployment, the
measured facts and the pack's numbers, and records the audit events. Modules:

- ``assessment``: draft, store (TOML), approve, fingerprint, state, retention;
- ``sections``: what each assessment section says (``SECTION_KEYS``);
- ``storage``: the assessment file format;
- ``workdays``: Chinese working days (``chinese_calendar``); ``filing``: status and packet;
- ``protection``: GB/T 22239 controls at a level, operator tasks, plausibility;
- ``render`` (+ ``pdf``): HTML (Jinja2 templates) and PDF (fpdf2).
"""

from faceguard.assess.assessment import (
    PLACEHOLDER,
    SECTION_KEYS,
    Approval,
    Assessment,
    AssessmentFacts,
    AssessmentState,
    Section,
    approve,
    assessment_path,
    assessment_state,
    content_hash,
    deployment_fingerprint,
    draft_assessment,
    keep_until,
    load_assessment,
    may_delete,
    save_assessment,
    save_draft,
)
from faceguard.assess.filing import FilingPacket, FilingStatus, filing_packet, filing_status
from faceguard.assess.protection import (
    Control,
    LevelWarning,
    ProtectionReport,
    controls_in_force,
    protection_report,
)
from faceguard.assess.render import render_html, render_pdf
from faceguard.assess.workdays import (
    add_working_days,
    covered_years,
    is_working_day,
    working_days_between,
)

__all__ = [
    "PLACEHOLDER",
    "SECTION_KEYS",
    "Approval",
    "Assessment",
    "AssessmentFacts",
    "AssessmentState",
    "Control",
    "FilingPacket",
    "FilingStatus",
    "LevelWarning",
    "ProtectionReport",
    "Section",
    "add_working_days",
    "approve",
    "assessment_path",
    "assessment_state",
    "content_hash",
    "controls_in_force",
    "covered_years",
    "deployment_fingerprint",
    "draft_assessment",
    "filing_packet",
    "filing_status",
    "is_working_day",
    "keep_until",
    "load_assessment",
    "may_delete",
    "protection_report",
    "render_html",
    "render_pdf",
    "save_assessment",
    "save_draft",
    "working_days_between",
]
