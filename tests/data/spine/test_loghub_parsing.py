"""Parsing rules checked against real logs (loghub); skipped when the data is absent."""
import csv

import pytest

from aiops.telemetry.logparse import parse_line


def _need(path):
    if not path.exists():
        pytest.skip(f"{path} not present (set AIOPS_DATA_DIR to the shared data folder)")
    return path


def test_openssh_failures_match_loghub_templates(data_dir):
    base = _need(data_dir / "loghub" / "ssh-linux" / "OpenSSH")
    lines = (base / "OpenSSH_2k.log").read_text().splitlines()
    rows = list(csv.DictReader(open(base / "OpenSSH_2k.log_structured.csv")))
    assert len(rows) == len(lines)
    expected = [r["EventTemplate"].startswith(("Failed password for", "Invalid user")) for r in rows]
    got = [(e := parse_line(l)) is not None and e.kind in ("ssh_auth_failure", "ssh_invalid_user") for l in lines]
    tp = sum(a and b for a, b in zip(expected, got))
    assert tp / sum(expected) >= 0.99 and tp / sum(got) >= 0.99
    accepted = sum(1 for l in lines if (e := parse_line(l)) and e.kind == "ssh_auth_success")
    assert accepted == sum(r["EventTemplate"].startswith("Accepted password") for r in rows)


def test_linux_pam_auth_failures(data_dir):
    base = _need(data_dir / "loghub" / "ssh-linux" / "Linux")
    lines = (base / "Linux_2k.log").read_text(errors="replace").splitlines()
    rows = list(csv.DictReader(open(base / "Linux_2k.log_structured.csv", errors="replace")))
    want = sum(1 for r in rows if r["Component"].startswith("sshd") and "authentication failure" in r["Content"])
    got = sum(1 for l in lines if (e := parse_line(l)) and e.kind == "ssh_auth_failure")
    assert want > 50 and got == want


def test_bgl_parity_and_ecc_lines(data_dir):
    base = _need(data_dir / "loghub" / "bgl-2k" / "BGL")
    lines = (base / "BGL_2k.log").read_text(errors="replace").splitlines()
    ecc = [e for l in lines if (e := parse_line(l)) and e.kind == "ecc_error"]
    truth = sum(1 for l in lines if "parity error corrected" in l or ("ECC" in l and "corrected" in l))
    assert truth > 20 and len(ecc) >= truth
