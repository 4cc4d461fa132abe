"""A stand-alone Serve ingress with the platform and placement routers (tests, demos).

Kept apart from ``actors.placement_service`` so the Serve app module (which mounts the
placement routers) and this ingress (which mounts the Serve app's platform service) import
each other's modules in one direction only.
"""
from __future__ import annotations

from typing import Any

from actors.placement_service import build_placement_routers
from actors.platform_service import RayPlatformService
from aiops.api.app import create_app
from aiops.auth import TokenAuth
from aiops.placement.inventory import DEFAULT_REFRESH_S
from aiops.settings import Settings

__all__ = ["PlacementIngress", "build_placement_app"]


class PlacementIngress:
    """A stand-alone Serve ingress with the platform and placement routers (tests, demos)
    until the main ingress mounts ``build_placement_routers``."""

    def __init__(self, settings: Settings, refresh_s: float = DEFAULT_REFRESH_S) -> None:
        self.settings = settings
        self.refresh_s = refresh_s

    def __serve_build_asgi_app__(self) -> Any:
        return create_app(RayPlatformService(self.settings), self.settings.serve,
                          build_placement_routers(self.settings, self.refresh_s), ingest=self.settings.ingest,
                          auth=TokenAuth.from_settings(self.settings.api))


def build_placement_app(settings: Settings, refresh_s: float = DEFAULT_REFRESH_S, name: str = "aiops-placement-api") -> Any:
    """Serve application of ``PlacementIngress``; run it with ``serve.run(app, name=..., route_prefix=...)``."""
    from ray import serve

    ingress = serve.deployment(serve.ingress()(PlacementIngress), name=name, num_replicas=1,
                               ray_actor_options={"num_cpus": settings.serve.ingress_num_cpus},
                               graceful_shutdown_timeout_s=5)
    return ingress.bind(settings, refresh_s)
