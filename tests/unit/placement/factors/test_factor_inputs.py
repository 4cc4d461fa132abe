"""Every factor is computed from real state: it varies over the fleet, and changing the
inventory columns it declares as inputs moves it. Vectorised == per-node evaluation."""
from __future__ import annotations

import numpy as np
import pytest

from aiops.placement.optimise.constraints import VMRequest
from aiops.placement.factors.registry import FactorContext
from aiops.placement.inventory import Inventory

from tests.unit.placement.recommend_fixtures import catalog, engine, fleet, vm_request

FACTOR_IDS = [f.id for f in catalog().factors]
HORIZON = 168.0


def _requests(inv: Inventory) -> list[VMRequest]:
    """A CPU VM of the busiest tenant with a user location, and a GPU VM of a smaller
    tenant without one: between them every request-dependent path is exercised."""
    counts = np.bincount(inv.vm["tenant"], minlength=inv.tenant_names.size)
    small = np.flatnonzero(counts > 0)
    mid = str(inv.tenant_names[small[np.argmin(counts[small])]])
    return [vm_request(inv), vm_request(inv, tenant=mid, gpus=1.0, cpu=2.0, mem_gb=8.0, user_lat=None, user_lon=None)]


def _values(inv: Inventory, j: int, vm: VMRequest) -> np.ndarray:
    fn, params = engine()._calls[j]
    ctx = FactorContext(inv, vm, HORIZON)
    out = fn(ctx, np.arange(inv.n_nodes), **params)
    return np.asarray(out[0] if isinstance(out, tuple) else out, dtype=float)


def _perturbations(arr: np.ndarray, rng: np.random.Generator):
    if arr.dtype == bool:
        yield ~arr
        yield np.roll(arr, 1)
        return
    yield np.roll(arr, 1)
    yield rng.permutation(arr)
    if arr.dtype.kind == "f":
        finite = np.isfinite(arr)
        scaled = arr.copy()
        scaled[finite] = arr[finite] * 1.7 + np.nanstd(arr[finite]) + 1.0
        yield scaled
        # epoch-like columns: move every window into the next hours
        if finite.any() and np.nanmin(arr) > 1e9:
            yield fleet().now + (np.arange(arr.size) % 48) * 3600.0


def _differs(a: np.ndarray, b: np.ndarray) -> bool:
    both_nan = np.isnan(a) & np.isnan(b)
    return bool(np.any(~both_nan & ~np.isclose(a, b, rtol=1e-9, atol=1e-12, equal_nan=False)))


@pytest.mark.parametrize("fid", FACTOR_IDS)
def test_factor_varies_and_moves_with_each_input(fid: str) -> None:
    inv = fleet()
    j = engine().ids.index(fid)
    requests = _requests(inv)
    bases = [_values(inv, j, vm) for vm in requests]
    base = bases[0]
    assert base.shape == (inv.n_nodes,)
    finite = base[np.isfinite(base)]
    assert finite.size > inv.n_nodes * 0.5, "mostly unknown"
    assert np.ptp(finite) > 0, f"{fid} is constant over the fleet"
    if j in engine().static_rows:   # promised snapshot-only: the request must not matter
        np.testing.assert_array_equal(bases[0], bases[1])
    inputs = engine().inputs[j]
    assert inputs, f"{fid} declares no inputs"
    rng = np.random.default_rng(0)
    still = []
    for address in inputs:
        arr = inv.field(address)
        moved = any(_differs(_values(inv.with_field(address, new), j, vm), b)
                    for new in _perturbations(arr, rng) for vm, b in zip(requests, bases))
        if not moved:
            still.append(address)
    assert not still, f"{fid} did not move when {still} changed"


def test_vectorised_equals_per_node_loop() -> None:
    inv = fleet()
    eng = engine()
    ctx = FactorContext(inv, vm_request(inv), 24.0)
    idx = np.arange(0, inv.n_nodes, 7)
    full = eng.raw_values(ctx, idx)
    for col, i in enumerate(idx[:25]):
        one = eng.raw_values(ctx, np.array([i]))[:, 0]
        np.testing.assert_allclose(one, full[:, col], rtol=1e-12, equal_nan=True)


def test_failure_risk_unknown_is_neutral_but_uncertain() -> None:
    inv = fleet()
    eng = engine()
    j = engine().ids.index("failure_risk")
    ctx = FactorContext(inv, vm_request(inv), 24.0)
    idx = np.arange(inv.n_nodes)
    fm = eng.compute(ctx, idx)
    unknown = ~np.isfinite(inv.node["failure_risk"])
    assert unknown.any() and (~unknown).any()
    vals = fm.raw(np.arange(idx.size))[j]
    assert np.isfinite(vals).all()
    known_mean = np.nanmean(inv.node["failure_risk"])
    np.testing.assert_allclose(vals[unknown], known_mean, rtol=1e-9)
    unc = eng.uncertainty(fm, idx)[j]
    assert unc[unknown].min() > unc[~unknown].max()


def test_snapshot_cache_follows_inventory_changes() -> None:
    inv = fleet()
    eng = engine()
    idx = np.arange(inv.n_nodes)
    j = engine().ids.index("cpu_util_p95")
    assert j in eng.static_rows
    before = eng.raw_values(FactorContext(inv, vm_request(inv), 24.0), idx)[j]
    hotter = inv.with_field("feature.cpu_util_p95", inv.feature["cpu_util_p95"] * 0.5)
    after = eng.raw_values(FactorContext(hotter, vm_request(inv), 24.0), idx)[j]
    np.testing.assert_allclose(after, before * 0.5)
