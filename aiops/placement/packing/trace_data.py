"""Loading the public placement traces the benchmark replays (Azure VM workload, Alibaba OpenB GPU pods).

Files live under the settings' data directory (``placement_dir``); nothing here reads a file
until asked.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from aiops.settings import Settings

__all__ = ["placement_dir", "load_azure_workload", "azure_server_capacity", "load_openb_nodes", "load_openb_pods"]


def placement_dir(settings: Settings | None = None) -> Path:
    return (settings or Settings()).data_dir / "placement"


# -- loaders ---------------------------------------------------------------------------------
def load_azure_workload(path: Path) -> pd.DataFrame:
    """vmId, tenantId, cores, ram, starttime, endtime (days; inf = still alive at the end)."""
    df = pd.read_csv(path)
    need = {"vmId", "tenantId", "cores", "ram", "starttime", "endtime"}
    if not need <= set(df.columns):
        raise ValueError(f"{path}: missing columns {sorted(need - set(df.columns))}")
    df["endtime"] = pd.to_numeric(df["endtime"], errors="coerce").fillna(np.inf)
    return df


def azure_server_capacity(path: Path, machine: int = 1) -> np.ndarray:
    """(cores, ram) of one server type from CoSpot's integer mapping (machine 1 hosts every VM shape)."""
    blocks = json.loads(Path(path).read_text())
    merged: dict[str, float] = {k: v for b in blocks for k, v in b.items()}
    return np.array([merged[f"server_cores[{machine}]"], merged[f"server_ram[{machine}]"]], dtype=np.float64)


def load_openb_nodes(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path)
    df["model"] = df["model"].fillna("").astype(str)
    return df


def load_openb_pods(path: Path) -> pd.DataFrame:
    """Pods with cpu_milli, memory_mib, num_gpu, gpu_milli, gpu_spec; times default to file order."""
    df = pd.read_csv(path)
    if "gpu_spec" not in df.columns:
        df["gpu_spec"] = ""
    df["gpu_spec"] = df["gpu_spec"].fillna("").astype(str)
    if "creation_time" not in df.columns:
        df["creation_time"] = np.arange(len(df), dtype=np.float64)
        df["deletion_time"] = np.inf
    return df


# -- online replay on identical or heterogeneous nodes --------------------------------------
