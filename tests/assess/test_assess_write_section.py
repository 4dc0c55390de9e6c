"""The DPO writes the assessment section by section (``fg.governance.write_section``, the
pages' call), with the rules of the file edited by hand: approval only once every section is
complete, an edit after approval requires approving again, refusals cite R10."""

from __future__ import annotations

from pathlib import Path

import pytest

from faceguard import ConfigError, Faceguard
from faceguard.api.governance import MAX_SECTION_CHARS
from faceguard.assess import PLACEHOLDER, load_assessment


def test_sections_written_one_by_one_then_approved(fg: Faceguard, data_dir: Path) -> None:
    path, draft = fg.governance.draft_assessment(actor="dpo")
    pending = draft.pending
    assert pending
    with pytest.raises(ConfigError) as refused:
        fg.governance.approve_assessment("Wang Fang", actor="dpo")
    assert refused.value.rule == "R10" and pending[0] in refused.value.message
    for key in pending[:-1]:
        fg.governance.write_section(key, f"  Weighed {key}.\r\nAcceptable.  ", actor="dpo")
    # a text still holding the placeholder keeps its section pending
    last = pending[-1]
    left = fg.governance.write_section(last, f"{PLACEHOLDER}: later", actor="dpo")
    assert left.pending == [last]
    done = fg.governance.write_section(last, "Weighed it.", actor="dpo")
    assert done.pending == []
    on_disk = load_assessment(path)
    assert on_disk.section(pending[0]).dpo == f"Weighed {pending[0]}.\nAcceptable."
    assert on_disk == done
    approved = fg.governance.approve_assessment("Wang Fang", actor="dpo")
    assert approved.approval is not None and fg.governance.facts().assessment.approved
    events = fg._store.audit.events(operation="assessment.edited", limit=100)
    assert [e.detail["section"] for e in events] == [*pending, last]
    assert all(e.actor == "dpo" and list(e.rules) == ["R10"] for e in events)
    # an edit after approval: reassessment required, as a hand edit of the file
    fg.governance.write_section(pending[0], "Changed my mind.", actor="dpo")
    state = fg.governance.facts().assessment
    assert not state.matches_deployment and "reassessment required" in state.detail


def test_refusals_cite_r10(fg: Faceguard, data_dir: Path) -> None:
    with pytest.raises(ConfigError) as unknown:
        fg.governance.write_section("no-such-section", "text")
    assert unknown.value.rule == "R10" and "conclusion" in unknown.value.message
    with pytest.raises(ConfigError) as long:
        fg.governance.write_section("conclusion", "x" * (MAX_SECTION_CHARS + 1))
    assert long.value.rule == "R10" and f"{MAX_SECTION_CHARS:,}" in long.value.message
    (data_dir / "assessment.toml").unlink()
    with pytest.raises(ConfigError) as missing:
        fg.governance.write_section("conclusion", "text")
    assert missing.value.rule == "R10" and "not found" in missing.value.message
