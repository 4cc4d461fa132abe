"""Rule engine: literal pre-filter equals brute force; regex gates; config validation."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from aiops.security.events import FieldView, LogSource, SecurityEvent
from aiops.security.sigma.values import regex_required_literals
from aiops.security.config import load_security_config
from aiops.security.sigma.rules import SigmaEngine, rules_from_yaml
from aiops.settings import ConfigError, Settings

RULES = """
title: r1
id: 31111111-0000-0000-0000-000000000001
logsource: {category: process_creation, product: windows}
detection:
  img: {Image|endswith: ['\\\\cmd.exe', '\\\\powershell.exe']}
  cli: {CommandLine|contains: ['-enc', 'iex', 'downloadstring', 'bypass', 'hidden', 'frombase64', 'net user']}
  condition: img and cli
level: high
---
title: r2
id: 31111111-0000-0000-0000-000000000002
logsource: {category: process_creation, product: windows}
detection:
  sel: {CommandLine|re: '\\w+`\\w+`'}
  filter: {User: 'SYSTEM'}
  condition: sel and not filter
level: high
---
title: r3
id: 31111111-0000-0000-0000-000000000003
logsource: {category: process_creation, product: windows}
detection:
  sel: {ParentImage|endswith: '\\\\winword.exe'}
  condition: sel
level: high
---
title: r4 keywords
id: 31111111-0000-0000-0000-000000000004
logsource: {product: windows}
detection:
  kw: ['mimikatz', 'sekurlsa', '*lsadump*']
  condition: kw
level: high
---
title: r5 not only
id: 31111111-0000-0000-0000-000000000005
logsource: {category: process_creation, product: windows}
detection:
  sel: {User: 'SYSTEM'}
  condition: not sel
level: low
---
title: r6 eq number
id: 31111111-0000-0000-0000-000000000006
logsource: {category: process_creation, product: windows}
detection:
  sel: {EventID: 1, IntegrityLevel: High}
  condition: sel
level: low
"""

VOCAB = ["c:\\windows\\system32\\cmd.exe", "c:\\x\\PowerShell.exe", "winword.exe", "-enc", "IEX", "bypass", "net user",
         "In`Vo`ke", "mimikatz", "lsadump::sam", "SYSTEM", "bob", "High", "Low", "hidden", "a", "\\winword.exe", "1", "2"]


def random_event(rng: random.Random) -> SecurityEvent:
    fields = {}
    for f in ("Image", "ParentImage", "CommandLine", "User", "IntegrityLevel", "EventID"):
        if rng.random() < 0.8:
            fields[f] = " ".join(rng.choice(VOCAB) for _ in range(rng.randint(1, 4)))
    if rng.random() < 0.3:
        fields["EventID"] = rng.choice([1, 2, "1"])
    ls = LogSource("windows", "sysmon", ("process_creation",) if rng.random() < 0.8 else ("file_event",))
    return SecurityEvent(timestamp=0.0, source="t", logsource=ls, fields=fields)


def test_prefilter_equals_brute_force_on_random_events() -> None:
    rs = rules_from_yaml(RULES)
    assert not rs.errors and len(rs.rules) == 6
    fast, slow = SigmaEngine(rs, prefilter=True), SigmaEngine(rs, prefilter=False)
    rng = random.Random(7)
    hits = 0
    for _ in range(3000):
        ev = random_event(rng)
        a = [r.id for r in fast.match(ev)]
        b = [r.id for r in slow.match(ev)]
        assert a == b, ev.fields
        hits += len(b)
    assert hits > 500  # the vocabulary makes every rule fire sometimes
    assert fast.stats()["rules_evaluated_per_event"] < slow.stats()["rules_evaluated_per_event"]


def test_regex_required_literals() -> None:
    import re

    assert regex_required_literals(re.compile(r"\w+`(?:\w+|-|.)`")) == ["`", "`"]
    assert "invoke-" in regex_required_literals(re.compile(r"(?i)Invoke-(Expression|WebRequest)"))
    assert regex_required_literals(re.compile(r"(abc|def)x?")) == []
    assert regex_required_literals(re.compile(r"(?:foo)+bar")) == ["foo", "bar"]


def test_field_view_is_case_insensitive_and_flat() -> None:
    ev = SecurityEvent(timestamp=0.0, source="t", logsource=LogSource(), user="Bob",
                       fields={"A": {"B": [1, {"C": True}], "D": None}, "E": "X"})
    v = FieldView.build(ev)
    assert v.raw["a.b"] == (1,) and v.lo["a.b.c"] == ("true",) and v.raw["a.d"] == ()
    assert v.lo["e"] == ("x",) and v.lo["user"] == ("bob",)


def test_security_yaml_is_valid_and_errors_name_the_key(tmp_path: Path) -> None:
    cfg = load_security_config()
    assert cfg.rules.project_dirs and {s.id for s in cfg.suppressions} >= {"vuln-scanner-allowlist"}
    paths = cfg.rule_paths(Settings().data_dir)
    assert any(p.name == "rules" and p.parent.name == "configs" for p in paths)
    bad = tmp_path / "s.yaml"
    bad.write_text("rules: {min_level: loud}\nsuppressions: [{entities: {colour: red}}]\n")
    with pytest.raises(ConfigError) as exc:
        load_security_config(bad)
    assert "rules.min_level" in str(exc.value) and "suppressions.0.entities" in str(exc.value)
