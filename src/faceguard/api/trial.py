"""Starting a trial (``faceguard serve --dev`` in an empty folder): the data directory, the
trial deployment (``policy.trial``), its assessment approved as a trial, the notice of its
purpose, and one API key per role a newcomer needs. Made once; a later start finds it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from faceguard.api.setup import ensure_dev_key
from faceguard.assess.assessment import save_assessment
from faceguard.assess.trial import complete_for_trial
from faceguard.policy.trial import TRIAL_APPROVER, TRIAL_PURPOSE, TRIAL_TOML
from faceguard.store.core import CONFIG_FILE

if TYPE_CHECKING:
    from faceguard.access.keys import ApiKeys
    from faceguard.api.faceguard import Faceguard

#: The roles whose keys a trial prints: who enrolls, who matches, who administers.
TRIAL_ROLES = ("operator", "terminal", "admin")


@dataclass
class TrialKeys:
    """Secrets of the keys made for a trial, by role (shown once)."""

    secrets: dict[str, str] = field(default_factory=dict)


def needs_trial(data_dir: Path, config: Path | None) -> bool:
    """A trial is made where nothing is configured yet: no deployment file."""
    return config is None and not (data_dir / CONFIG_FILE).exists()


def write_trial_files(data_dir: Path) -> Path:
    """The data directory, a development master key and the trial deployment file."""
    data_dir.mkdir(parents=True, exist_ok=True)
    ensure_dev_key(data_dir)
    config = data_dir / CONFIG_FILE
    config.write_text(TRIAL_TOML, encoding="utf-8")
    return config


def prepare_trial(fg: Faceguard, *, actor: str = "serve --dev") -> None:
    """Approve the trial's assessment (as a trial, R10) and publish its notice (R2), so
    that the trial passes its check and can enroll at once."""
    if not fg.deployment.deployment.trial:
        raise ValueError("not a trial deployment")
    path, draft = fg.governance.draft_assessment(actor=actor)
    save_assessment(path, complete_for_trial(draft))
    fg.governance.approve_assessment(TRIAL_APPROVER, actor=actor)
    if fg.consent.current_notice(TRIAL_PURPOSE) is None:
        fg.consent.publish_notice(TRIAL_PURPOSE, actor=actor)


def make_trial_keys(keys: ApiKeys) -> TrialKeys:
    """One key per ``TRIAL_ROLES`` (the terminal's for the trial purpose); none if any key
    exists already (they were printed at the first start)."""
    made = TrialKeys()
    if keys.list_keys(active_only=True):
        return made
    for role in TRIAL_ROLES:
        purposes = [TRIAL_PURPOSE] if role == "terminal" else []
        created = keys.create(role, f"trial {role}", purposes, actor="serve --dev")
        made.secrets[role] = created.secret
    return made
