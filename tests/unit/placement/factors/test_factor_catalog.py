"""The factor catalog: size, fields, and validation errors that name the factor."""
from __future__ import annotations

import copy
from collections import Counter

import pytest

from aiops.placement.factors.catalog import CATEGORIES, DEFAULT_CATALOG, parse_catalog
from aiops.settings import ConfigError, load_yaml

from tests.unit.placement.recommend_fixtures import catalog


def _raw() -> dict:
    return copy.deepcopy(load_yaml(DEFAULT_CATALOG))


def test_catalog_has_100_plus_factors_across_categories() -> None:
    cat = catalog()
    assert len(cat.factors) >= 100
    counts = Counter(f.category for f in cat.factors)
    assert set(counts) == set(CATEGORIES)
    # the seed's rough split
    assert counts["resource_utilization"] >= 20 and counts["performance"] >= 25 and counts["cost"] >= 15
    assert counts["reliability"] >= 20 and counts["security"] >= 15 and counts["network"] >= 10
    assert {f.scope for f in cat.factors} == {"node", "cluster", "global"}
    assert {f.direction for f in cat.factors} == {"higher_is_better", "higher_is_worse"}


def test_every_factor_has_a_distinct_calculator_setup() -> None:
    seen = Counter((f.calculator.name, tuple(sorted(f.calculator.params.items()))) for f in catalog().factors)
    dupes = [k for k, v in seen.items() if v > 1]
    assert not dupes, f"two factors compute the same thing: {dupes}"


@pytest.mark.parametrize("mutate, needle", [
    (lambda d: d["factors"][3]["calculator"].update(name="no_such_calc"), "unknown calculator"),
    (lambda d: d["factors"][0]["calculator"]["params"].update(address="feature.nope"), "is not a node.* or feature.* column"),
    (lambda d: d["factors"][8]["calculator"]["params"].update(resource="bananas"), "unknown resource"),
    (lambda d: d["factors"][1].update(update_frequency="often"), "update_frequency"),
    (lambda d: d["factors"][2].update(direction="sideways"), "direction"),
    (lambda d: d["factors"][5].update(weight=-1), "weight"),
    (lambda d: d["factors"].append(copy.deepcopy(d["factors"][0])), "duplicate factor id"),
    (lambda d: d["factors"][0].update(normalize={"lo": 5, "hi": 1}), "must exceed"),
    (lambda d: d["factors"][0].update(colour="red"), "colour"),
])
def test_invalid_catalog_is_rejected_with_a_clear_message(mutate, needle) -> None:
    data = _raw()
    mutate(data)
    with pytest.raises(ConfigError) as err:
        parse_catalog(data, "test.yaml")
    assert needle in str(err.value)
    assert "test.yaml" in str(err.value)


def test_error_names_the_factor_id() -> None:
    data = _raw()
    data["factors"][4]["calculator"]["name"] = "missing"
    with pytest.raises(ConfigError, match=data["factors"][4]["id"]):
        parse_catalog(data, "x")
