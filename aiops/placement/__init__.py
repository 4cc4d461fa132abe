"""Placement engine: recommendations, feedback learning, batch plans and evacuations (plain Python).

Subpackages: ``inventory`` (fleet state, control plane), ``factors``, ``optimise``, ``packing``.
Exports resolve lazily so importing one module does not import them all.
"""
from __future__ import annotations

from aiops.lazy_exports import lazy_exports

__all__ = ["InvalidPlacementRequest", "NoFeasibleNode", "NoFeasiblePlan", "PlanNotFound", "ApprovalRequired", "ControlPlaneError", "OBJECTIVE_BOOST", "NodeRecommendation", "RecommendationResult", "RecommendationQuery", "PlacementService", "naive_scores", "FeedbackStore", "InMemoryFeedbackStore", "FeedbackRecord", "LearnerConfig", "FeedbackOutcome", "outcome_value", "FeedbackLearner", "MAX_OUTCOMES", "MAX_RETRAIN", "RedisFeedbackStore", "PlanVm", "PlanQuery", "PlanService", "DIMENSIONS", "CAPACITY_CONSTRAINTS", "DEFAULT_RISK", "PlanBatch", "static_mask", "vm_demand", "record_request", "node_matrices", "node_hourly_cost", "node_risk", "ProblemBuilder", "EvacuationQuery", "Evacuations"]

__getattr__, __dir__ = lazy_exports(__name__, {
    "InvalidPlacementRequest": ".errors",
    "NoFeasibleNode": ".errors",
    "NoFeasiblePlan": ".errors",
    "PlanNotFound": ".errors",
    "ApprovalRequired": ".errors",
    "ControlPlaneError": ".errors",
    "OBJECTIVE_BOOST": ".recommend",
    "NodeRecommendation": ".recommend",
    "RecommendationResult": ".recommend",
    "RecommendationQuery": ".recommend",
    "PlacementService": ".recommend",
    "naive_scores": ".recommend",
    "FeedbackStore": ".feedback",
    "InMemoryFeedbackStore": ".feedback",
    "FeedbackRecord": ".feedback",
    "LearnerConfig": ".feedback",
    "FeedbackOutcome": ".feedback",
    "outcome_value": ".feedback",
    "FeedbackLearner": ".feedback",
    "MAX_OUTCOMES": ".feedback_redis",
    "MAX_RETRAIN": ".feedback_redis",
    "RedisFeedbackStore": ".feedback_redis",
    "PlanVm": ".plan",
    "PlanQuery": ".plan",
    "PlanService": ".plan",
    "DIMENSIONS": ".plan_problem",
    "CAPACITY_CONSTRAINTS": ".plan_problem",
    "DEFAULT_RISK": ".plan_problem",
    "PlanBatch": ".plan_problem",
    "static_mask": ".plan_problem",
    "vm_demand": ".plan_problem",
    "record_request": ".plan_problem",
    "node_matrices": ".plan_problem",
    "node_hourly_cost": ".plan_problem",
    "node_risk": ".plan_problem",
    "ProblemBuilder": ".plan_problem",
    "EvacuationQuery": ".evacuation",
    "Evacuations": ".evacuation",
})
