"""A small simulated fleet with features from a real shard fed by the real simulator (no Ray)."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from aiops.features.definitions import load_definitions
from aiops.features.shard import ShardState
from aiops.placement.inventory import SimulatedControlPlane
from aiops.placement.inventory import FleetSnapshot, build_fleet_snapshot, vm_records
from aiops.settings import PROJECT_ROOT, Settings
from aiops.telemetry.simulator import FleetSimulator

NOW_OFFSET_S = 2 * 3600.0


@lru_cache(maxsize=4)
def simulated(hosts: int = 16, vms_per_host: int = 4, seed: int = 7) -> tuple[dict[str, Any], dict[str, Any], float]:
    """(simulator inventory, feature vectors by target, now) after two simulated hours."""
    cfg = Settings().with_overrides(**{"simulator.hosts": hosts, "simulator.vms_per_host": vms_per_host,
                                       "simulator.seed": seed, "simulator.interval_s": 60.0}).simulator
    sim = FleetSimulator(cfg)
    shard = ShardState(0, load_definitions(PROJECT_ROOT / "configs" / "features.yaml"), 4096)
    shard.ingest_many([t.metrics for t in sim.advance(NOW_OFFSET_S)])
    inv = {"hosts": [h.__dict__ for h in sim.fleet.hosts], "vms": [v.__dict__ for v in sim.fleet.vms]}
    vectors = {t: shard.get_features(t) for t in sim.targets}
    return inv, vectors, sim.now


def snapshot(failure: dict[str, float] | None = None, cp: SimulatedControlPlane | None = None, **kw: Any) -> FleetSnapshot:
    inv, vectors, now = simulated(**kw)
    state = cp.state() if cp is not None else {}
    return build_fleet_snapshot(inv, vectors, failure or {}, now, vms=cp.vms() if cp is not None else None,
                                cordoned=state.get("cordoned", ()))


def control_plane(**kw: Any) -> SimulatedControlPlane:
    cp = SimulatedControlPlane()
    cp.load(vm_records(simulated(**kw)[0]).values())
    return cp
