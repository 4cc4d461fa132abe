"""Security incidents as alert specs for `aiops.alerting`: each open incident record is an active alert
(closed or merged ones are resolved by leaving the set); the generatorURL is the incident in this API."""
from __future__ import annotations

from typing import Any, Iterable, Mapping
from urllib.parse import quote

from aiops.alerting.board import AlertSpec

__all__ = ["incident_alert_specs"]


def incident_alert_specs(records: Iterable[Mapping[str, Any]], api_base: str) -> list[AlertSpec]:
    """Open incidents among the anomaly records (`SecurityService.anomalies` values)."""
    out = []
    for rec in records:
        if rec.get("kind") != "incident" or rec.get("status") != "open":
            continue
        iid = str(rec["id"])
        entities = rec.get("entities") or []
        out.append(AlertSpec(
            key=iid, name="SecurityIncident", severity=str(rec.get("severity")),
            labels={"incident_id": iid},
            annotations={"summary": f"{rec.get('severity')} security incident {iid}: {rec.get('description', '')}",
                         "tactics": ", ".join(rec.get("tactics") or []),
                         "techniques": ", ".join(rec.get("techniques") or []),
                         "entities": ", ".join(entities[:20]) + (f" (+{len(entities) - 20})" if len(entities) > 20 else "")},
            generator_url=f"{api_base}/api/ai/security/incidents/{quote(iid, safe='')}",
            starts_at=rec.get("timestamp"),
            detail={"score": rec.get("score"), "targets": rec.get("targets") or {}}))
    return out
