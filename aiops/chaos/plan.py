"""Which faults a chaos run injects, one at a time, and how each is recognised on the cluster.

A fault names what it kills: the worker node (every process in its network namespace), one actor
(matched on the Ray state API's actor name or class name), or one of the run's own services (Redis or
NATS, killed with SIGKILL and restarted on the same data folder). `jobs.chaos` carries them out; this
module is the plan and the matching only, so it is testable without a cluster.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

__all__ = ["Fault", "FULL_PLAN", "SHORT_PLAN", "select_faults", "match_actor"]


@dataclass(frozen=True)
class Fault:
    """One fault: ``kind`` is "node", "actor" or "service"; ``target`` what it kills (see the module doc)."""

    name: str
    kind: str
    target: str
    why: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("node", "actor", "service"):
            raise ValueError(f"fault kind must be node, actor or service, not {self.kind!r}")


FULL_PLAN: tuple[Fault, ...] = (
    Fault("feature shard", "actor", "name:feature-shard-0", "restores from the Redis WAL + snapshots"),
    Fault("NATS collector", "actor", "name:collector-nats", "unacked messages are redelivered"),
    Fault("failure predictor replica", "actor", "replica:failure-predictor", "Serve replaces the replica"),
    Fault("failure monitor", "actor", "name:failure-monitor", "restarts; the driver restarts its loop"),
    Fault("placement optimiser", "actor", "name:placement-optimizer", "restarts with its fleet view rebuilt"),
    Fault("security correlator", "actor", "name:security-correlator", "restarts; the delivery ledger skips what it took"),
    Fault("Serve ingress replica", "actor", "replica:aiops-api", "Serve replaces the replica"),
    Fault("Serve proxy (head)", "actor", "proxy:head", "the controller restarts the proxy"),
    Fault("worker node", "node", "worker", "every process of the worker's namespace killed; actors move to the head"),
    Fault("Redis restart", "service", "redis", "SIGKILL, restart on its AOF (fsync always)"),
    Fault("NATS restart", "service", "nats", "SIGKILL, restart on its JetStream file store"),
)

SHORT_PLAN: tuple[Fault, ...] = (FULL_PLAN[0], FULL_PLAN[8])  # a shard, then the worker node


def select_faults(names: Sequence[str] | None, plan: Iterable[Fault] = FULL_PLAN) -> tuple[Fault, ...]:
    """The faults whose name contains one of ``names`` (case-insensitive; None or empty: the whole plan),
    in plan order; an unknown name is an error so a typo never runs an empty experiment."""
    faults = tuple(plan)
    if not names:
        return faults
    wanted = [n.lower() for n in names]
    unknown = [n for n in wanted if not any(n in f.name.lower() for f in faults)]
    if unknown:
        raise ValueError(f"no fault matches {unknown}; faults: {[f.name for f in faults]}")
    return tuple(f for f in faults if any(n in f.name.lower() for n in wanted))


def match_actor(fault: Fault, actors: Sequence[dict[str, Any]], head_node_id: str | None = None) -> dict[str, Any] | None:
    """The live actor (a Ray state API row: name, class_name, state, pid, node_id) this fault kills.

    ``name:X`` matches the actor name exactly, ``replica:X`` a replica of Serve deployment X (Serve names
    replica actors ``SERVE_REPLICA::<app>#<deployment>#<id>``), ``proxy:head`` the Serve proxy on the head
    node. Among several matches the first alive one wins."""
    how, _, what = fault.target.partition(":")
    alive = [a for a in actors if a.get("state") == "ALIVE" and a.get("pid")]
    for a in alive:
        name, cls = a.get("name") or "", a.get("class_name") or ""
        if how == "name" and name == what:
            return a
        if how == "replica" and name.startswith("SERVE_REPLICA::") and f"#{what}#" in name:
            return a
        if how == "proxy" and "ProxyActor" in cls and (head_node_id is None or a.get("node_id") == head_node_id):
            return a
    return None
