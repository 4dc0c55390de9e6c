"""A trial's assessment (``faceguard serve --dev``): the draft with every text a DPO must
write filled by a statement that no DPO wrote it, so that the trial can be approved and run,
and so that nobody can mistake it for a real assessment (R10)."""

from __future__ import annotations

from dataclasses import replace

from faceguard.assess.assessment import Assessment
from faceguard.assess.sections import PLACEHOLDER

TRIAL_TEXT = ("TRIAL: no DPO has judged this section. This assessment was filled in and "
              "approved automatically by `faceguard serve --dev` so that the trial can run "
              "on photos; it does not meet R10 for real people.")


def complete_for_trial(draft: Assessment) -> Assessment:
    """``draft`` with each DPO placeholder replaced by ``TRIAL_TEXT``."""
    sections = []
    for section in draft.sections:
        prefilled = section.prefilled.replace(PLACEHOLDER, "TRIAL (no DPO)")
        dpo = section.dpo
        if PLACEHOLDER in dpo or (section.needs_human and not dpo.strip()):
            dpo = TRIAL_TEXT
        sections.append(replace(section, prefilled=prefilled, dpo=dpo))
    return replace(draft, sections=tuple(sections))
