"""Hunting over files: archives whatever the case of their extension, unknown shapes counted, the CLI end to end."""
from __future__ import annotations

import gzip
import io
import json
import tarfile
import zipfile
from pathlib import Path

from aiops.security.hunt.parse import read_events
from jobs.cli import main

SYSMON = {"EventID": 1, "Channel": "Microsoft-Windows-Sysmon/Operational", "Hostname": "ws1",
          "EventTime": "2020-01-01 10:00:00", "Image": "C:\\Windows\\System32\\whoami.exe", "CommandLine": "whoami /all"}
LINES = (json.dumps(SYSMON) + "\n" + json.dumps({"hello": 1}) + "\n{not json\n").encode()


def _tree(tmp: Path) -> Path:
    d = tmp / "rec"
    d.mkdir()
    with zipfile.ZipFile(d / "a.Zip", "w") as zf:
        zf.writestr("inner.json", LINES)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("x.json")
        info.size = len(LINES)
        tf.addfile(info, io.BytesIO(LINES))
    (d / "b.TAR.GZ").write_bytes(gzip.compress(buf.getvalue()))
    (d / "c.json.GZ").write_bytes(gzip.compress(LINES))
    (d / "d.json").write_text(json.dumps([SYSMON, SYSMON]))
    (d / "e.pcap").write_bytes(b"\xd4\xc3\xb2\xa1")
    return d


def test_archives_in_any_case_are_opened_and_unknown_shapes_counted(tmp_path: Path) -> None:
    events, files = read_events([_tree(tmp_path)])
    assert len(events) == 5  # one per archive + two in the JSON array
    for name in ("a.Zip", "b.TAR.GZ", "c.json.GZ"):
        s = next(f for k, f in files.items() if k.endswith(name))
        assert (s.records, s.parsed, s.events) == (3, 1, 1), name
        assert s.rejected["bad_json"] == 1
        assert any(k.startswith("unknown_shape:missing_") for k in s.rejected), s.rejected
    pcap = next(f for k, f in files.items() if k.endswith("e.pcap"))
    assert pcap.records == 0 and "Zeek" in pcap.skipped_members[0]
    assert events[0][1].line >= 1 and events[0][1].member


def test_truncated_gzip_is_a_counted_rejection(tmp_path: Path) -> None:
    p = tmp_path / "t.gz"
    p.write_bytes(gzip.compress(LINES * 50)[:-30])
    _, files = read_events([p])
    assert any(k.startswith("truncated_archive") for k in files[str(p)].rejected)


def test_cli_hunt_writes_incidents_and_summary(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    d = _tree(tmp_path)
    out = tmp_path / "out"
    assert main(["hunt", str(d), "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert {Path(f["file"]).name for f in summary["files"]} >= {"a.Zip", "b.TAR.GZ", "d.json"}
    assert isinstance(json.loads((out / "incidents.json").read_text()), list)
    assert "| file | records |" in capsys.readouterr().out
