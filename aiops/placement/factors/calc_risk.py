"""Failure risk, maintenance calendar, security posture and compliance calculators."""
from __future__ import annotations

import numpy as np

from aiops.placement.factors.registry import FactorContext, register
from aiops.placement.inventory import CERTIFICATIONS


@register("failure_risk", inputs=["node.failure_risk"])
def failure_risk(ctx: FactorContext, idx: np.ndarray, default_prior: float = 0.02,
                 unknown_uncertainty: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Predicted failure probability over the horizon; hosts without a prediction get the
    fleet's mean risk (neutral) with high uncertainty, so confidence drops instead of the
    host looking safe."""
    risk = ctx.inv.node["failure_risk"]

    def prior() -> float:
        known = risk[np.isfinite(risk)]
        return float(known.mean()) if known.size else default_prior

    p24 = risk[idx]
    known = np.isfinite(p24)
    p24 = np.where(known, p24, ctx.memo("risk_prior", prior))
    p = 1 - (1 - np.clip(p24, 0, 1)) ** (ctx.horizon_h / 24.0)
    return p, np.where(known, 0.05, unknown_uncertainty)


@register("hours_to_maintenance", inputs=["node.maint_start"], static=True)
def hours_to_maintenance(ctx: FactorContext, idx: np.ndarray, cap_hours: float = 720.0) -> np.ndarray:
    """Hours until the host's next maintenance window (capped; no window = cap)."""
    start = ctx.inv.node["maint_start"][idx]
    h = (start - ctx.inv.now) / 3600.0
    return np.clip(np.where(np.isfinite(h), h, cap_hours), 0, cap_hours)


@register("maintenance_overlap", inputs=["node.maint_start", "node.maint_end"])
def maintenance_overlap(ctx: FactorContext, idx: np.ndarray) -> np.ndarray:
    """Fraction of the time horizon the host spends in a maintenance window."""
    now = ctx.inv.now
    end_h = now + ctx.horizon_h * 3600.0
    s = np.nan_to_num(ctx.inv.node["maint_start"][idx], nan=np.inf)
    e = np.nan_to_num(ctx.inv.node["maint_end"][idx], nan=np.inf)
    overlap = np.clip(np.minimum(e, end_h) - np.maximum(s, now), 0, None)
    return np.nan_to_num(overlap / (ctx.horizon_h * 3600.0), nan=0.0)


@register("days_since", inputs=lambda address: [address], static=True)
def days_since(ctx: FactorContext, idx: np.ndarray, address: str) -> np.ndarray:
    """Age in days of an epoch-seconds timestamp column."""
    return (ctx.inv.now - ctx.inv.field(address)[idx]) / 86_400.0


@register("vuln_score", inputs=["node.vuln_critical", "node.vuln_high", "node.vuln_medium"], static=True)
def vuln_score(ctx: FactorContext, idx: np.ndarray, critical: float = 10.0, high: float = 4.0, medium: float = 1.0) -> np.ndarray:
    """Severity-weighted count of open vulnerabilities."""
    n = ctx.inv.node
    return critical * n["vuln_critical"][idx] + high * n["vuln_high"][idx] + medium * n["vuln_medium"][idx]


@register("foreign_tenants", inputs=["vm.node", "vm.tenant"])
def foreign_tenants(ctx: FactorContext, idx: np.ndarray) -> np.ndarray:
    """Distinct other tenants sharing the host (side-channel and noisy-neighbour exposure)."""
    inv = ctx.inv

    def distinct() -> np.ndarray:
        # tenants per node over the whole snapshot; the requester is subtracted per request
        pairs = np.unique(inv.vm["node"] * np.int64(inv.tenant_names.size + 1) + inv.vm["tenant"])
        return np.bincount(pairs // (inv.tenant_names.size + 1), minlength=inv.n_nodes).astype(float)

    def own() -> np.ndarray:
        mine = inv.vm["node"][inv.vm["tenant"] == ctx.tenant]
        return (np.bincount(mine, minlength=inv.n_nodes) > 0).astype(float)

    return inv.derived("distinct_tenants", distinct)[idx] - ctx.memo("own_tenant_nodes", own)[idx]


@register("certification_count", inputs=["node.certifications"], static=True)
def certification_count(ctx: FactorContext, idx: np.ndarray) -> np.ndarray:
    """Share of the known compliance certifications the host holds."""
    return np.bitwise_count(ctx.inv.node["certifications"][idx].astype(np.uint64)).astype(float) / len(CERTIFICATIONS)


@register("classification_headroom", inputs=["node.max_classification"])
def classification_headroom(ctx: FactorContext, idx: np.ndarray) -> np.ndarray:
    """Levels of data classification the host allows above what the VM needs."""
    return ctx.inv.node["max_classification"][idx].astype(float) - ctx.vm.data_classification
