"""The Web API subset under ``/v1``: paths, JSON shapes and errors as Spotify's. The routes are
in :mod:`~maestro.sandbox.player_routes` and :mod:`~maestro.sandbox.library_routes` (its
catch-all ``/v1/{kind}/{id}`` last); what they share (tokens, scopes, errors, paging) in
:mod:`~maestro.sandbox.web`."""

from __future__ import annotations

from maestro.sandbox import library_routes, player_routes
from maestro.sandbox.web import required_scopes

__all__ = ["required_scopes", "routes"]

routes = [*player_routes.routes, *library_routes.routes]
