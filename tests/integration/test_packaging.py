"""The wheel works outside the repository: installed into a fresh venv, `aiops up` run from another directory
(no checkout on the path, no repo-root configs/) serves /healthz with the configuration shipped in the package.

What "clean" means here (offline build farm, 2 shared cores):
* default: a venv made without system site-packages; the project comes only from its wheel (built from a copy
  of the sources, installed with --no-deps); the third-party packages come from the shared venv's folders,
  added as plain paths (no .pth of theirs runs, so the checkout's editable install stays out). The test first
  checks that every requirement the wheel declares is installed there at a matching version, so a missing or
  mis-pinned dependency fails here, as it would in `pip install`.
* AIOPS_PACKAGING_FULL=1: the same venv, but pip installs torch (CPU) and then the wheel with all its
  dependencies from the package index: the operator's `pip install`, taking minutes and ~3 GB.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from importlib import metadata
from pathlib import Path

import httpx
import pytest
import yaml
from packaging.requirements import Requirement

from tests.conftest import API_TOKEN, free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
FULL = os.environ.get("AIOPS_PACKAGING_FULL") == "1"


def _build_wheel(out: Path) -> Path:
    """Build from a copy of the sources, so the build writes nothing into the checkout."""
    src = out / "src"
    src.mkdir()
    for name in ("aiops", "actors", "jobs"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out / "dist")], check=True, cwd=out, timeout=300)
    return next((out / "dist").glob("novacron_aiops-*.whl"))


def _shared_dependency_paths() -> list[str]:
    """The folders that hold the shared venv's third-party packages (venv site-packages and the base one)."""
    paths = [sysconfig.get_paths()["purelib"], *(p for p in sys.path if p.endswith("site-packages"))]
    return list(dict.fromkeys(p for p in paths if Path(p).is_dir()))


def _unmet_requirements(wheel_requires: list[str]) -> list[str]:
    unmet = []
    for raw in wheel_requires:
        req = Requirement(raw)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        try:
            version = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            unmet.append(f"{raw} (not installed)")
            continue
        if not req.specifier.contains(version.split("+")[0], prereleases=True):
            unmet.append(f"{raw} (installed {version})")
    return unmet


def _clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without what would put the checkout on the new venv's path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "AIOPS_CONFIG", "PYTHONHOME")}
    env.update(extra)
    return env


def _make_venv(tmp: Path, wheel: Path) -> Path:
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", *([] if FULL else ["--without-pip"]), str(venv)],
                   check=True, timeout=300)
    py = venv / "bin" / "python"
    if FULL:
        pip = [str(py), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, "torch==2.13.0"], check=True, timeout=1800, env=_clean_env())
        subprocess.run([*pip, str(wheel)], check=True, timeout=1800, env=_clean_env())
        return venv
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True, env=_clean_env()).stdout.strip()
    # install the wheel with --no-deps (pip of the shared venv, targeting the new venv's interpreter)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q", "--no-deps", str(wheel)],
                   check=True, timeout=300, env=_clean_env())
    Path(site, "shared_dependencies.pth").write_text("\n".join(_shared_dependency_paths()) + "\n")
    return venv


def test_wheel_in_a_fresh_venv_runs_aiops_up_from_another_directory() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="pk", dir="/tmp"))
    try:
        wheel = _build_wheel(tmp)
        import zipfile

        names = set(zipfile.ZipFile(wheel).namelist())
        assert {"aiops/configs/aiops.yaml", "aiops/configs/features.yaml", "aiops/configs/rules/linux_ssh_auth.yml",
                "aiops/configs/prometheus/aiops-alerts.yml"} <= names
        requires = metadata.Distribution.at(_dist_info(wheel, tmp)).requires or []
        if not FULL:
            assert not _unmet_requirements(requires), _unmet_requirements(requires)
        venv = _make_venv(tmp, wheel)
        _run_up(venv, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _dist_info(wheel: Path, tmp: Path) -> Path:
    import zipfile

    out = tmp / "meta"
    with zipfile.ZipFile(wheel) as z:
        members = [n for n in z.namelist() if n.split("/")[0].endswith(".dist-info")]
        z.extractall(out, members)
    return next(out.glob("*.dist-info"))


def _shipped_feature_count() -> int:
    return len(yaml.safe_load((ROOT / "aiops" / "configs" / "features.yaml").read_text())["features"])


def _run_up(venv: Path, tmp: Path) -> None:
    cwd = tmp / "elsewhere"
    cwd.mkdir()
    env = _clean_env(RAY_USAGE_STATS_ENABLED="0", AIOPS_API_TOKEN=API_TOKEN, HOME=str(tmp / "home"),
                     RAY_TMPDIR=str(tmp / "r"))  # short: Ray's socket paths live under it; removed with tmp
    where = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import aiops, jobs, aiops.config_io as c; print(aiops.__file__); print(c.CONFIG_DIR)"],
                           cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.split()
    assert all(p.startswith(str(venv)) for p in where), where  # the wheel's copy, not the checkout
    port = free_port()
    cfg = cwd / "small.yaml"  # a user's own settings beside them; the engine files come from the package
    cfg.write_text("simulator: {hosts: 5, vms_per_host: 1}\nray: {num_cpus: 2}\nstore: {num_shards: 1}\n")
    proc = subprocess.Popen([str(venv / "bin" / "aiops"), "--config", "small.yaml", "up", "--port", str(port), "--quiet"],
                            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    try:
        health = None
        deadline = time.time() + 240
        while time.time() < deadline and health is None and proc.poll() is None:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=3)
                health = r.json() if r.status_code == 200 else None
            except httpx.HTTPError:
                pass
            time.sleep(2)
        feats = httpx.get(f"http://127.0.0.1:{port}/api/ai/features", timeout=10,
                          headers={"Authorization": f"Bearer {API_TOKEN}"}) if health else None
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
    assert health is not None, f"/healthz never answered 200:\n{out[-3000:]}"
    assert feats is not None and feats.status_code == 200, out[-2000:]
    assert feats.json()["total"] == _shipped_feature_count(), "the shipped features.yaml was not the one served"
    assert proc.returncode == 0 and "AIOps engine is up (1 feature shards" in out, out[-3000:]
