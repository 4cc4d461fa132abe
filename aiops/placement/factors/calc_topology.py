"""Topology, geography and fleet-wide calculators.

Network distance to the tenant's other VMs is computed from counts of those VMs per
node, rack, zone and region (one ``bincount`` each per request), so the distance
from every candidate to every peer is O(nodes + zones²) rather than nodes × peers.
Global factors (fleet and zone imbalance after placement) update running sums
analytically for each candidate instead of re-simulating the fleet.
"""
from __future__ import annotations

from typing import Literal

import numpy as np

from aiops.placement.factors.calc_cost import incremental_power_w
from aiops.placement.factors.resources import RESOURCES, check_resource, resource_inputs
from aiops.placement.factors.registry import FactorContext, register
from aiops.placement.inventory import haversine_km, zone_latency_ms

PEER_INPUTS = ["vm.node", "vm.tenant", "node.rack", "node.zone", "zone.region"]
_SHARE_INPUTS = {"node": [], "rack": ["node.rack"], "zone": ["node.zone"], "region": ["node.zone", "zone.region"],
                 "country": ["node.zone"]}
# round-trip latency inside a zone by hop level: same host, same rack, other rack
_INTRA_MS = (0.02, 0.08, 0.25)


def _peers(ctx: FactorContext) -> dict[str, np.ndarray | int]:
    """Counts of the tenant's VMs per node / rack / zone / region / country."""

    def build() -> dict[str, np.ndarray | int]:
        inv = ctx.inv
        t = ctx.tenant
        nodes = inv.vm["node"][inv.vm["tenant"] == t] if t >= 0 else np.zeros(0, dtype=np.int64)
        zone_of = inv.node["zone"]
        country_codes, country_of_zone = np.unique(inv.zone_country.astype(str), return_inverse=True)
        cnt_zone = np.bincount(zone_of[nodes], minlength=inv.n_zones).astype(float)
        return {
            "m": int(nodes.size),
            "node": np.bincount(nodes, minlength=inv.n_nodes).astype(float),
            "rack": np.bincount(inv.node["rack"][nodes], minlength=inv.n_racks).astype(float),
            "zone": cnt_zone,
            "region": np.bincount(inv.zone["region"], weights=cnt_zone, minlength=inv.n_regions),
            "country": np.bincount(country_of_zone, weights=cnt_zone, minlength=country_codes.size),
            "country_of_zone": country_of_zone,
        }

    return ctx.memo("peers", build)


def _levels(ctx: FactorContext, idx: np.ndarray) -> tuple[np.ndarray, ...]:
    """Peers on the same node, same rack (other node), same zone (other rack), same region, elsewhere."""
    p = _peers(ctx)
    inv = ctx.inv
    zone = inv.node["zone"][idx]
    region = inv.zone["region"][zone]
    same_node = p["node"][idx]
    same_rack = p["rack"][inv.node["rack"][idx]]
    same_zone = p["zone"][zone]
    same_region = p["region"][region]
    return same_node, same_rack - same_node, same_zone - same_rack, same_region - same_zone, p["m"] - same_region


@register("tenant_distance", inputs=PEER_INPUTS)
def tenant_distance(ctx: FactorContext, idx: np.ndarray, stat: Literal["mean", "min"] = "mean") -> np.ndarray:
    """Network hops to the tenant's VMs: 0 same host, 1 rack, 2 zone, 3 region, 4 WAN (NaN: no peers)."""
    m = _peers(ctx)["m"]
    if m == 0:
        return np.full(idx.shape[0], np.nan)
    lv = np.stack(_levels(ctx, idx))
    if stat == "mean":
        return (np.arange(5)[:, None] * lv).sum(axis=0) / m
    return np.argmax(lv > 0, axis=0).astype(float)


@register("tenant_latency", inputs=["vm.node", "vm.tenant", "node.rack", "node.zone", "zone.lat", "zone.lon"])
def tenant_latency(ctx: FactorContext, idx: np.ndarray) -> np.ndarray:
    """Mean round-trip latency (ms) to the tenant's VMs: hop latency in-zone, great-circle between zones."""
    p = _peers(ctx)
    m = p["m"]
    if m == 0:
        return np.full(idx.shape[0], np.nan)
    inv = ctx.inv
    lat = inv.derived("zone_latency", lambda: zone_latency_ms(inv))
    cross = ctx.memo("cross_zone_ms", lambda: (lat * (1 - np.eye(inv.n_zones))) @ p["zone"])
    same_node, same_rack, same_zone, _, _ = _levels(ctx, idx)
    intra = _INTRA_MS[0] * same_node + _INTRA_MS[1] * same_rack + _INTRA_MS[2] * same_zone
    return (intra + cross[inv.node["zone"][idx]]) / m


@register("tenant_share", inputs=lambda scope: ["vm.node", "vm.tenant", *_SHARE_INPUTS[scope]])
def tenant_share(ctx: FactorContext, idx: np.ndarray, scope: Literal["node", "rack", "zone", "region", "country"]) -> np.ndarray:
    """Fraction of the tenant's VMs in the candidate's node/rack/zone/region/country (NaN: no peers)."""
    p = _peers(ctx)
    if p["m"] == 0:
        return np.full(idx.shape[0], np.nan)
    inv = ctx.inv
    zone = inv.node["zone"][idx]
    key = {"node": idx, "rack": inv.node["rack"][idx], "zone": zone,
           "region": inv.zone["region"][zone], "country": p["country_of_zone"][zone]}[scope]
    return p[scope][key] / p["m"]


@register("cross_zone_traffic_cost", inputs=["vm.node", "vm.tenant", "node.zone", "zone.inter_zone_price_gb"])
def cross_zone_traffic_cost(ctx: FactorContext, idx: np.ndarray, gb_per_hour: float = 2.0) -> np.ndarray:
    """USD/h of the VM's peer traffic that crosses zones (share of peers elsewhere × inter-zone price)."""
    share = tenant_share(ctx, idx, "zone")
    price = ctx.inv.zone["inter_zone_price_gb"][ctx.inv.node["zone"][idx]]
    return (1 - share) * price * gb_per_hour


@register("tenant_zone_spread_after", inputs=["vm.node", "vm.tenant", "node.zone"])
def tenant_zone_spread_after(ctx: FactorContext, idx: np.ndarray) -> np.ndarray:
    """Shannon entropy (nats) of the tenant's VMs over zones after placement: higher means
    the VMs are spread more evenly and a zone outage takes a smaller share of them."""
    p = _peers(ctx)

    def per_zone() -> np.ndarray:
        counts = p["zone"]
        after = counts[None, :] + np.eye(counts.size)  # row z: the VM lands in zone z
        prob = after / after.sum(axis=1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            return -np.nansum(np.where(prob > 0, prob * np.log(prob), 0.0), axis=1)

    return ctx.memo("zone_entropy_after", per_zone)[ctx.inv.node["zone"][idx]]


def _user_point(ctx: FactorContext) -> tuple[float, float] | None:
    """The request's user location, else the centroid of the tenant's VMs."""
    if ctx.vm.user_lat is not None and ctx.vm.user_lon is not None:
        return ctx.vm.user_lat, ctx.vm.user_lon
    p = _peers(ctx)
    if p["m"] == 0:
        return None
    w = p["zone"] / p["m"]
    return float(w @ ctx.inv.zone["lat"]), float(w @ ctx.inv.zone["lon"])


@register("user_distance", inputs=["zone.lat", "zone.lon", "node.zone", "vm.tenant", "vm.node"])
def user_distance(ctx: FactorContext, idx: np.ndarray) -> np.ndarray:
    """Great-circle km from the node's site to the users (or the tenant's centre of mass)."""
    pt = _user_point(ctx)
    if pt is None:
        return np.full(idx.shape[0], np.nan)
    z = ctx.inv.zone
    d = ctx.memo("user_dist_zone", lambda: haversine_km(z["lat"], z["lon"], pt[0], pt[1]))
    return d[ctx.inv.node["zone"][idx]]


@register("user_latency", inputs=["zone.lat", "zone.lon", "zone.access_latency_ms", "node.zone", "vm.tenant", "vm.node"])
def user_latency(ctx: FactorContext, idx: np.ndarray) -> np.ndarray:
    """Estimated user round trip: fibre distance plus the site's last-mile latency."""
    d = user_distance(ctx, idx)
    return d / 100.0 + ctx.inv.zone["access_latency_ms"][ctx.inv.node["zone"][idx]]


_SCOPE_INPUTS = {"rack": ["node.rack"], "zone": ["node.zone"], "region": ["node.zone", "zone.region"]}


def _group_key(ctx: FactorContext, scope: str) -> tuple[np.ndarray, int]:
    inv = ctx.inv
    if scope == "rack":
        return inv.node["rack"], inv.n_racks
    if scope == "zone":
        return inv.node["zone"], inv.n_zones
    return inv.zone["region"][inv.node["zone"]], inv.n_regions


def _check_scope(scope: str, **_: object) -> None:
    if scope not in _SCOPE_INPUTS:
        raise ValueError(f"scope must be one of {sorted(_SCOPE_INPUTS)}, got {scope!r}")


@register("group_mean", inputs=lambda address, scope: [address, *_SCOPE_INPUTS[scope]],
          check=lambda address, scope: _check_scope(scope), static=True)
def group_mean(ctx: FactorContext, idx: np.ndarray, address: str, scope: str) -> np.ndarray:
    """Mean of a node column over the candidate's rack/zone/region (cluster-scope state)."""

    def build() -> np.ndarray:
        key, k = _group_key(ctx, scope)
        v = ctx.inv.field(address).astype(float)
        ok = np.isfinite(v)
        s = np.bincount(key[ok], weights=v[ok], minlength=k)
        c = np.bincount(key[ok], minlength=k)
        return s / np.maximum(c, 1)

    key, _ = _group_key(ctx, scope)
    return ctx.inv.derived(f"group_mean:{address}:{scope}", build)[key[idx]]


@register("group_utilisation", inputs=lambda resource, scope: [*resource_inputs(resource), *_SCOPE_INPUTS[scope]],
          check=lambda resource, scope: (check_resource(resource), _check_scope(scope)) and None)
def group_utilisation(ctx: FactorContext, idx: np.ndarray, resource: str, scope: str) -> np.ndarray:
    """Allocated share of a resource in the candidate's rack/zone/region after placement."""
    cap_c, alloc_c, req = RESOURCES[resource]

    def build() -> tuple[np.ndarray, np.ndarray]:
        key, k = _group_key(ctx, scope)
        n = ctx.inv.node
        return np.bincount(key, weights=n[alloc_c], minlength=k), np.bincount(key, weights=n[cap_c], minlength=k)

    alloc, cap = ctx.inv.derived(f"group_util:{resource}:{scope}", build)
    key, _ = _group_key(ctx, scope)
    g = key[idx]
    return (alloc[g] + float(getattr(ctx.vm, req))) / np.maximum(cap[g], 1e-9)


@register("fleet_imbalance_after", inputs=resource_inputs, check=check_resource)
def fleet_imbalance_after(ctx: FactorContext, idx: np.ndarray, resource: str) -> np.ndarray:
    """Std of per-node allocation fractions over the whole fleet if the VM lands on the candidate."""
    cap_c, alloc_c, req = RESOURCES[resource]
    n = ctx.inv.node

    def sums() -> tuple[float, float, np.ndarray, np.ndarray]:
        cap = n[cap_c]
        has = cap > 0
        a = np.where(has, n[alloc_c] / np.where(has, cap, 1), 0.0)
        return float(a[has].sum()), float((a[has] ** 2).sum()), a, has

    s1, s2, a, has = ctx.inv.derived(f"fleet_sums:{resource}", sums)
    count = max(int(has.sum()), 1)
    cap = n[cap_c][idx]
    d = np.where(cap > 0, float(getattr(ctx.vm, req)) / np.where(cap > 0, cap, 1), 0.0)
    ai = a[idx]
    s1n = s1 + d
    s2n = s2 + 2 * ai * d + d ** 2
    return np.sqrt(np.maximum(s2n / count - (s1n / count) ** 2, 0))


@register("zone_imbalance_after", inputs=lambda resource: [*resource_inputs(resource), "node.zone"], check=check_resource)
def zone_imbalance_after(ctx: FactorContext, idx: np.ndarray, resource: str) -> np.ndarray:
    """Std of per-zone allocation fractions after placement (keeps zones evenly loaded)."""
    cap_c, alloc_c, req = RESOURCES[resource]
    inv = ctx.inv

    def sums() -> tuple[np.ndarray, np.ndarray]:
        z = inv.node["zone"]
        return (np.bincount(z, weights=inv.node[alloc_c], minlength=inv.n_zones),
                np.bincount(z, weights=inv.node[cap_c], minlength=inv.n_zones))

    alloc, cap = inv.derived(f"zone_sums:{resource}", sums)
    has = cap > 0
    frac = np.where(has, alloc / np.where(has, cap, 1), 0.0)
    k = max(int(has.sum()), 1)
    s1, s2 = frac[has].sum(), (frac[has] ** 2).sum()
    zone = inv.node["zone"][idx]
    d = np.where(cap[zone] > 0, float(getattr(ctx.vm, req)) / np.where(cap[zone] > 0, cap[zone], 1), 0.0)
    f = frac[zone]
    s1n, s2n = s1 + d, s2 + 2 * f * d + d ** 2
    return np.sqrt(np.maximum(s2n / k - (s1n / k) ** 2, 0))


@register("rack_power_headroom", inputs=["rack.power_cap_kw", "rack.power_draw_kw", "node.rack",
                                         "node.power_idle_w", "node.power_max_w", "node.cpu_cores"])
def rack_power_headroom(ctx: FactorContext, idx: np.ndarray) -> np.ndarray:
    """Share of the rack's power budget left after the VM's extra draw (avoids tripping breakers)."""
    r = ctx.inv.rack
    rack = ctx.inv.node["rack"][idx]
    after = r["power_draw_kw"][rack] + incremental_power_w(ctx.inv, idx, ctx.vm) / 1000
    return (r["power_cap_kw"][rack] - after) / r["power_cap_kw"][rack]
