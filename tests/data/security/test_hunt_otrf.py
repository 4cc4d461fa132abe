"""`aiops hunt` over a few OTRF recordings: nothing silently dropped, the labelled technique inside an incident."""
from __future__ import annotations

from pathlib import Path

import pytest

from aiops.security.hunt.run import hunt
from aiops.security.sigma.pipeline import load_detection_pipeline

pytestmark = pytest.mark.data

OTRF = ("security", "otrf", "datasets")


@pytest.fixture(scope="module")
def sigma(data_dir: Path):  # type: ignore[no-untyped-def]
    if not (data_dir / "security" / "sigma" / "rules").exists():
        pytest.skip("SigmaHQ rules not present")
    return load_detection_pipeline(True)  # the configured SigmaHQ folders, as `aiops hunt --rules configured`


def _file(data_dir: Path, rel: str) -> Path:
    p = data_dir.joinpath(*OTRF, rel)
    if not p.exists():
        pytest.skip(f"data not present: {p}")
    return p


@pytest.mark.parametrize("rel", ["atomic/windows/credential_access/host/empire_mimikatz_logonpasswords.zip",
                                 "atomic/windows/persistence/host/covenant_persistwmi.tar.gz",
                                 "compound/apt29/day1/zeek/SCRANTON-zeek_logs.zip"])
def test_every_record_is_parsed_or_counted(data_dir: Path, rel: str, sigma) -> None:  # type: ignore[no-untyped-def]
    res = hunt([_file(data_dir, rel)], sigma)
    s = next(iter(res.files.values()))
    assert s.records > 0 and s.parsed + sum(s.rejected.values()) >= s.records
    assert s.parsed / s.records > 0.95


def test_lsass_dump_recording_opens_an_incident_with_its_technique(data_dir: Path, sigma) -> None:
    p = _file(data_dir, "atomic/windows/credential_access/host/empire_mimikatz_logonpasswords.zip")
    res = hunt([p], sigma)
    techs = {t for inc in res.incidents for t in inc["techniques"]}
    assert "T1003.001" in techs
    ev = next(e for inc in res.incidents for e in inc["events"])
    assert ev["file"] == str(p) and ev["line"] > 0
