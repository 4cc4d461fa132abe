"""The API's inventory provider: one object between refreshes, a failed refresh keeps the last."""
from __future__ import annotations

import time

import pytest

from aiops.placement.inventory import CachedFleet
from tests.unit.placement.fleet_fixtures import snapshot


def test_same_inventory_between_refreshes_and_last_good_on_error():
    calls = {"n": 0, "fail": False}

    def fetch():
        calls["n"] += 1
        if calls["fail"]:
            raise ConnectionError("shard down")
        return snapshot()

    fleet = CachedFleet(fetch, refresh_s=0.2)
    a = fleet.inventory()
    assert fleet.inventory() is a and calls["n"] == 1
    time.sleep(0.25)
    b = fleet.inventory()
    assert b is not a and calls["n"] == 2
    calls["fail"] = True
    time.sleep(0.25)
    assert fleet.inventory() is b and "shard down" in fleet.last_error
    fleet.invalidate()
    assert fleet.inventory() is b and calls["n"] == 4


def test_first_fetch_error_is_raised():
    def fetch():
        raise RuntimeError("no inventory source")

    with pytest.raises(RuntimeError):
        CachedFleet(fetch).inventory()
