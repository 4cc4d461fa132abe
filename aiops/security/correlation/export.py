"""Incident export: networkx graph, multi-hop pivots, timeline JSON and a rendered PNG."""
from __future__ import annotations

import io

import json
from pathlib import Path
from typing import Any

import networkx as nx

from aiops.security.correlation.graph import Component, GraphCorrelator

NODE_COLORS = {"host": "#4C72B0", "vm": "#55A868", "ip": "#C44E52", "user": "#8172B2", "proc": "#CCB974",
               "domain": "#64B5CD", "md5": "#999999", "sha1": "#999999", "sha256": "#999999", "url": "#64B5CD"}


def incident_graph(comp: Component) -> nx.MultiDiGraph:
    """Entities as nodes (with type), each signal edge as a timed, labelled directed edge."""
    g = nx.MultiDiGraph()
    for e in comp.entities:
        g.add_node(e, type=e.split(":", 1)[0])
    for a, b, lab, ts in comp.edges:
        for n in (a, b):
            if n not in g:
                g.add_node(n, type=n.split(":", 1)[0])
        g.add_edge(a, b, label=lab, ts=ts)
    return g


def pivots(g: nx.MultiDiGraph, min_hops: int = 2) -> list[list[str]]:
    """Time-respecting multi-hop paths over host/IP/VM nodes (A → B → C …), longest first.

    A hop counts only if it happens after the previous one (with a small slack for clock skew),
    so "attacker → host-3 (10:00) → host-7 (10:20) → drop site (10:50)" is a pivot while two
    unrelated edges that merely share a node are not.
    """
    infra = [n for n, d in g.nodes(data=True) if d.get("type") in ("host", "ip", "vm")]
    sub = g.subgraph(infra)
    best: dict[tuple[str, ...], None] = {}

    def walk(path: list[str], t: float) -> None:
        extended = False
        for _, nxt, d in sub.out_edges(path[-1], data=True):
            if nxt in path or d["ts"] + 60.0 < t:
                continue
            extended = True
            path.append(nxt)
            walk(path, d["ts"])
            path.pop()
        if not extended and len(path) - 1 >= min_hops:
            best[tuple(path)] = None

    for n in sub.nodes:
        if sub.in_degree(n) == 0 and len(best) < 200:
            walk([n], float("-inf"))
    paths = sorted((list(p) for p in best), key=len, reverse=True)
    keep: list[list[str]] = []
    for p in paths:  # drop paths contained in a longer one
        if not any(len(k) > len(p) and "\x00".join(p) in "\x00".join(k) for k in keep):
            keep.append(p)
    return keep[:10]


def incident_report(corr: GraphCorrelator, incident_id: str) -> dict[str, Any] | None:
    """Summary, time-ordered timeline, graph (node-link JSON) and pivots of one incident."""
    inc = corr.incidents.get(incident_id)
    comp = corr.component_of(incident_id)
    if inc is None or comp is None:
        return None
    g = incident_graph(comp)
    data = nx.node_link_data(g, edges="links")
    return {"incident": inc.summary(comp),
            "timeline": [s.to_dict() for s in sorted(comp.signals, key=lambda s: s.ts)],
            "graph": data, "pivots": pivots(g)}


def render_png(report: dict[str, Any], path: Path | str, title: str | None = None) -> Path:
    """Draw the incident graph to a PNG file (see :func:`render`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        render(report, fh, "png", title)
    return path


def render_svg(report: dict[str, Any], title: str | None = None) -> bytes:
    """The incident graph as SVG (served by ``GET /api/ai/security/incidents/{id}/graph.svg``)."""
    buf = io.BytesIO()
    render(report, buf, "svg", title)
    return buf.getvalue()


def render(report: dict[str, Any], out: Any, fmt: str, title: str | None = None) -> None:
    """Draw the incident graph: nodes coloured by entity type, edges labelled with action and minute offset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with matplotlib.rc_context({"text.parse_math": False}):  # entity names are data: '$' is a dollar, not TeX
        _draw(report, out, fmt, title, plt)


def _draw(report: dict[str, Any], out: Any, fmt: str, title: str | None, plt: Any) -> None:
    g = nx.node_link_graph(report["graph"], edges="links", directed=True, multigraph=True)
    t0 = report["incident"]["first_ts"]
    simple = nx.DiGraph()
    for n, d in g.nodes(data=True):
        simple.add_node(n, **d)
    for a, b, d in g.edges(data=True):
        lab = f"{d.get('label')} +{(d.get('ts', t0) - t0) / 60:.0f}m"
        if simple.has_edge(a, b):
            if lab not in simple[a][b]["labels"]:
                simple[a][b]["labels"].append(lab)
        else:
            simple.add_edge(a, b, labels=[lab])
    fig, ax = plt.subplots(figsize=(11, 8))
    pos = nx.kamada_kawai_layout(simple) if simple.number_of_nodes() > 1 else {n: (0, 0) for n in simple}
    colors = [NODE_COLORS.get(d.get("type", ""), "#BBBBBB") for _, d in simple.nodes(data=True)]
    nx.draw_networkx_nodes(simple, pos, node_color=colors, node_size=900, alpha=0.9, ax=ax)
    nx.draw_networkx_labels(simple, pos, font_size=7, ax=ax)
    nx.draw_networkx_edges(simple, pos, arrows=True, arrowsize=15, edge_color="#555555", ax=ax, node_size=900)
    nx.draw_networkx_edge_labels(simple, pos, edge_labels={(a, b): "\n".join(d["labels"][:3]) for a, b, d in simple.edges(data=True)},
                                 font_size=6, ax=ax)
    inc = report["incident"]
    ax.set_title(title or f"{inc['id']} [{inc['severity']}, risk {inc['risk']:.2f}] tactics: {', '.join(inc['tactics'])}", fontsize=9)
    if report.get("pivots"):
        ax.text(0.01, 0.01, "pivot: " + " → ".join(report["pivots"][0]), transform=ax.transAxes, fontsize=7)
    ax.axis("off")
    fig.savefig(out, format=fmt, dpi=110, bbox_inches="tight")
    plt.close(fig)


def write_json(report: dict[str, Any], path: Path | str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
    return path
