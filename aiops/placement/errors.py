"""Placement's domain errors, each a kind from `aiops.errors`.

They travel unchanged from the service through the optimiser actor (Ray re-raises them) to the
HTTP layer, whose one error table answers them: `code` is the body's ``error`` field and
`details`, when not None, its ``details``. Every error pickles (Ray ships it between processes).
"""
from __future__ import annotations

from typing import Any

from aiops.errors import (ConflictError, InfeasibleError, InvalidRequestError, NotFoundError, PermissionDeniedError,
                          UnavailableError)

__all__ = ["InvalidPlacementRequest", "NoFeasibleNode", "NoFeasiblePlan", "PlanNotFound", "ApprovalRequired",
           "ControlPlaneError", "InventoryUnavailable"]


class InvalidPlacementRequest(InvalidRequestError):
    """The request itself is wrong (unknown VM, zone, GPU model ...): HTTP 422."""

    code = "invalid_input"
    details: Any = None


class NoFeasibleNode(InfeasibleError):
    """No node passes the hard constraints: HTTP 409 with the counts per constraint."""

    code = "no_feasible_node"

    def __init__(self, total_nodes: int, rejections: dict[str, int]):
        self.total_nodes = total_nodes
        self.rejections = {k: v for k, v in sorted(rejections.items(), key=lambda kv: -kv[1]) if v}
        reasons = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in self.rejections.items())
        super().__init__(f"0/{total_nodes} nodes are available: {reasons or 'no nodes in inventory'}")

    @property
    def details(self) -> dict[str, Any]:
        """What the client sees next to the message: the node count and the rejections per constraint."""
        return {"total_nodes": self.total_nodes, "rejections": self.rejections}

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.total_nodes, self.rejections))


class NoFeasiblePlan(InfeasibleError):
    """Constraints leave some VM no node, capacity cannot hold the batch, or no host is at risk: HTTP 409."""

    def __init__(self, message: str, details: dict[str, Any]):
        super().__init__(message)
        self.details = details

    @property
    def code(self) -> str:
        """`details["error"]` when it names a more precise reason (no_host_at_risk)."""
        return str(self.details.get("error", "no_feasible_plan"))

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.details))


class PlanNotFound(NotFoundError):
    """No stored plan has this id (never made, or evicted): HTTP 404."""

    code = "not_found"
    details: Any = None

    def __init__(self, plan_id: str):
        super().__init__(plan_id)
        self.plan_id = plan_id

    def __str__(self) -> str:
        return f"unknown plan {self.plan_id!r}"


class ApprovalRequired(PermissionDeniedError):
    """A plan is a dry run until applied with an explicit approval: HTTP 403."""

    code = "approval_required"
    details: Any = None


class ControlPlaneError(ConflictError, RuntimeError):
    """The control plane refused an action (the VM moved, the host is cordoned)."""

    code = "conflict"
    details: Any = None


class InventoryUnavailable(UnavailableError):
    """No source can report the fleet yet (its collector is not running): HTTP 503, retry later."""

    code = "unavailable"
    details: Any = None
