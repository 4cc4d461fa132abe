"""The Prometheus alert rules parse, fire as designed (promtool), and use metrics we export."""
import re
import shutil
import subprocess

import pytest

from aiops.settings import PROJECT_ROOT

RULES = PROJECT_ROOT / "configs" / "prometheus" / "aiops-alerts.yml"


def _promtool():
    tool = shutil.which("promtool")
    if not tool:
        pytest.fail("promtool is required (installed with prometheus by scripts/services.sh)")
    return tool


def test_rules_are_valid():
    out = subprocess.run([_promtool(), "check", "rules", str(RULES)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_rules_fire_as_designed():
    out = subprocess.run([_promtool(), "test", "rules", "aiops-alerts_test.yml"], capture_output=True, text=True,
                         cwd=PROJECT_ROOT / "tests" / "promtool")
    assert out.returncode == 0, out.stdout + out.stderr


def test_rules_only_use_exported_metric_names():
    exported = set()
    for path in list((PROJECT_ROOT / "aiops").rglob("*.py")) + list((PROJECT_ROOT / "actors").rglob("*.py")):
        exported |= set(re.findall(r'"(aiops_[a-z0-9_]+)"', path.read_text()))
    exported |= {f"{m}_total" for m in exported} | {f"{m}_bucket" for m in exported}
    exported |= {f"aiops_failure_model_{k}" for k in ("accuracy", "precision", "recall", "f1_score")}
    used = set(re.findall(r"\b(aiops_[a-z0-9_]+)", RULES.read_text()))
    assert used and used <= exported, used - exported
