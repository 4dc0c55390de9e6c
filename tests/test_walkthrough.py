"""The README's operator walkthrough, command by command: init, check (fails), assessment
drafted, completed and approved, check (passes), consent, enrollment, withdrawal, certificate;
and the generated assessment and filing packet rendered to PDF with their sections."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from faceguard.cli.main import main


def run(data: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--data", str(data), *args])
    return result.exit_code, result.stdout if result.exit_code == 0 else result.output


@pytest.fixture()
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("FACEGUARD_MASTER_KEY", raising=False)
    monkeypatch.delenv("FACEGUARD_MASTER_KEY_FILE", raising=False)
    folder = tmp_path / "data"
    assert run(folder, "init")[0] == 0
    return folder


def complete_as_dpo(path: Path) -> None:
    """What the DPO does by hand: replace every placeholder text with an assessment."""
    text = path.read_text(encoding="utf-8")
    filled, count = re.subn(r"^TO BE COMPLETED BY THE DPO:.*$",
                            "Assessed by the DPO on site; see minutes 2026-11.", text,
                            flags=re.MULTILINE)
    assert count > 0
    path.write_text(filled, encoding="utf-8")


def test_operator_walkthrough(data: Path, lfw: Path, tmp_path: Path) -> None:
    config = data / "faceguard.toml"
    # the starter file names the cn pack: liveness required (R26), assessment missing (R10)
    code, out = run(data, "check", "--json")
    report = json.loads(out)
    assert code == 1 and report["status"] == "fail"
    assert {v["rule"] for v in report["violations"]} == {"R10"}

    config.write_text(config.read_text().replace('packs = ["cn"]', 'packs = ["gdpr"]')
                      .replace('liveness = "required"', 'liveness = "off"'))
    code, out = run(data, "check", "--json")
    assert (code, [v["rule"] for v in json.loads(out)["violations"]]) == (1, ["P2"])

    photo = str(lfw / "Colin_Powell" / "Colin_Powell_0001.jpg")
    code, out = run(data, "notice", "--purpose", "access-control")
    assert code == 0
    run(data, "consent", "grant", "--subject", "emp-17", "--name", "Li Wei", "--purpose",
        "access-control", "--method", "written", "--evidence", "form 2026-117")
    code, out = run(data, "enroll", "--subject", "emp-17", "--purpose", "access-control",
                    photo, "--json")
    assert code == 3 and json.loads(out.splitlines()[-1])["rule"] == "P2"  # not live yet

    code, out = run(data, "assess", "--init")
    assert code == 0 and "sections for the DPO to complete" in out
    code, out = run(data, "assess", "--approve", "--by", "Wang Fang (DPO)")
    assert code == 2 and "TO BE COMPLETED BY THE DPO" in out  # placeholders remain
    complete_as_dpo(data / "assessment.toml")
    code, out = run(data, "assess", "--approve", "--by", "Wang Fang (DPO)")
    assert code == 0 and "approved by Wang Fang (DPO)" in out
    code, out = run(data, "check")
    assert code == 0 and out.startswith("PASS")

    code, out = run(data, "enroll", "--subject", "emp-17", "--purpose", "access-control",
                    photo)
    assert code == 0, out
    code, out = run(data, "consent", "withdraw", "--subject", "emp-17", "--purpose",
                    "access-control", "--json")
    withdrawn = json.loads(out)
    assert code == 0 and withdrawn["certificate"]["data_key_destroyed"] is True
    cert = tmp_path / "certificate.json"
    cert.write_text(json.dumps(withdrawn["certificate"]))
    code, key = run(data, "public-key")
    code, out = run(data, "certificate", "verify", str(cert), "--public-key", key.strip())
    assert (code, out.strip()) == (0, "valid")

    # changing the method after approval requires a new assessment (R10 / P2)
    config.write_text(config.read_text().replace('transmission = "local"',
                                                 'transmission = "network"'))
    code, out = run(data, "check", "--json")
    details = [v["detail"] for v in json.loads(out)["violations"] if v["rule"] == "P2"]
    assert code == 1 and "reassessment required" in details[0]


def _pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_assessment_and_filing_packet_render_to_pdf(data: Path, tmp_path: Path) -> None:
    config = data / "faceguard.toml"
    config.write_text(config.read_text().replace('packs = ["cn"]', 'packs = ["cn-draft-2023"]'))
    assert run(data, "assess", "--init")[0] == 0
    complete_as_dpo(data / "assessment.toml")
    assert run(data, "assess", "--approve", "--by", "DPO")[0] == 0
    # the documents come in the deployment's language (zh-CN under the cn packs) ...
    chinese = tmp_path / "assessment-zh.pdf"
    assert run(data, "assess", "--pdf", str(chinese))[0] == 0
    assert "处理目的、处理方式的合法性、正当性和必要性" in "".join(
        _pdf_text(chinese.read_bytes()).split())
    # ... or in the one asked for
    pdf = tmp_path / "assessment.pdf"
    code, _ = run(data, "assess", "--pdf", str(pdf), "--html", str(tmp_path / "a.html"),
                  "--language", "en")
    assert code == 0
    text = _pdf_text(pdf.read_bytes())
    for heading in ("Lawfulness, legitimacy and necessity", "Description of the processing",
                    "Approved by DPO"):
        assert heading.lower() in text.lower(), heading
    packet_pdf = tmp_path / "filing.pdf"
    code, out = run(data, "filing", "--pdf", str(packet_pdf), "--language", "en")
    assert code == 0, out
    packet = json.loads(out)
    assert packet["processor"]["name"] == "Sunshine Property Management Co."
    filing_text = _pdf_text(packet_pdf.read_bytes()).lower()
    for heading in ("processor", "purposes", "safeguards", "rules"):
        assert heading in filing_text, heading
