"""Shared builders for the recommendation tests (imported by file name: no conftest here,
the directory is shared with the packing tests)."""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from aiops.placement.optimise.constraints import VMRequest
from aiops.placement.factors.catalog import FactorCatalog, FactorEngine, load_catalog
from aiops.placement.inventory import Inventory
from aiops.placement.inventory import synthetic_inventory


@lru_cache(maxsize=1)
def catalog() -> FactorCatalog:
    return load_catalog()


@lru_cache(maxsize=1)
def engine() -> FactorEngine:
    return FactorEngine(catalog())


@lru_cache(maxsize=4)
def fleet(n: int = 300, seed: int = 3) -> Inventory:
    return synthetic_inventory(n, seed=seed, n_tenants=80)


def busiest_tenant(inv: Inventory) -> str:
    """The tenant with most VMs, so topology factors have peers to measure against."""
    counts = np.bincount(inv.vm["tenant"], minlength=inv.tenant_names.size)
    return str(inv.tenant_names[int(np.argmax(counts))])


def vm_request(inv: Inventory, **kw) -> VMRequest:
    base = dict(tenant=busiest_tenant(inv), cpu=4.0, mem_gb=16.0, disk_gb=100.0, net_gbps=1.0, iops=500.0,
                user_lat=48.85, user_lon=2.35)
    base.update(kw)
    return VMRequest(**base)
