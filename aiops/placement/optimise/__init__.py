"""Hard constraints and the NSGA-II batch optimiser (pymoo, imported only when used).
"""
from __future__ import annotations

from aiops.lazy_exports import lazy_exports

__all__ = ["Scope", "VMRequest", "AffinityRule", "PlacementConstraints", "ConstraintResult", "evaluate_constraints", "nodes_to_score", "Sample", "sample_candidates", "OBJECTIVES", "Feasible", "NodeSpec", "VmSpec", "PlacementProblem", "greedy_assign", "PlanResult", "knee_point", "optimise_batch", "prune_migrations", "plan_end_state", "evacuation_plan"]

__getattr__, __dir__ = lazy_exports(__name__, {
    "Scope": ".constraints",
    "VMRequest": ".constraints",
    "AffinityRule": ".constraints",
    "PlacementConstraints": ".constraints",
    "ConstraintResult": ".constraints",
    "evaluate_constraints": ".constraints",
    "nodes_to_score": ".constraints",
    "Sample": ".constraints",
    "sample_candidates": ".constraints",
    "OBJECTIVES": ".nsga",
    "Feasible": ".nsga",
    "NodeSpec": ".nsga",
    "VmSpec": ".nsga",
    "PlacementProblem": ".nsga",
    "greedy_assign": ".nsga",
    "PlanResult": ".nsga",
    "knee_point": ".nsga",
    "optimise_batch": ".nsga",
    "prune_migrations": ".nsga",
    "plan_end_state": ".nsga",
    "evacuation_plan": ".drain",
})
