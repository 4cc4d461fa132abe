"""The built-in factor calculators, registered by importing this module.

The registry knows nothing of its calculators (no import cycle); whoever resolves calculator
names from a catalog imports this module first so every built-in name is registered.
"""
from __future__ import annotations

from aiops.placement.factors import calc_cost, calc_node, calc_risk, calc_topology  # noqa: F401  (registers)
from aiops.placement.factors.registry import Calculator, calculators, get_calculator

__all__ = ["Calculator", "calculators", "get_calculator"]
