"""The box's web app and JSON API: Starlette, pages from Jinja2 templates, no asset from elsewhere.

The routes, here; the pages (:mod:`maestro.web.pages`: Now, Heard, Phrasings, Cards, Settings,
pairing) and the JSON API (:mod:`maestro.web.api`); what both need of the box
(:mod:`maestro.web.facing`). Nothing but the pairing page answers without a session or a token.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from maestro.serving import BodyLimitMiddleware
from maestro.web.access import Access
from maestro.web.api import Api
from maestro.web.facing import Box, Card, Saved
from maestro.web.guard import SecurityHeaders
from maestro.web.pages import Pages

__all__ = ["Box", "Card", "Saved", "create_app"]

#: The largest request body taken (a command, a correction, a form of settings).
MAX_BODY_BYTES = 16 * 1024


def create_app(box: Box, access: Access) -> Starlette:
    web, api = Pages(box, access), Api(box, access)
    routes = [
        Route("/pair", web.pair_page),
        Route("/pair", web.pair, methods=["POST"]),
        Route("/pair/code", web.ask_code, methods=["POST"]),
        Route("/sign-out", web.sign_out, methods=["POST"]),
        Route("/", web.now),
        Route("/press/{button}", web.press, methods=["POST"]),
        Route("/command", web.command_form, methods=["POST"]),
        Route("/heard", web.heard),
        Route("/heard/{entry:int}.wav", web.clip),
        Route("/correct", web.correct_form, methods=["POST"]),
        Route("/correct/{entry:int}", web.choose),
        Route("/phrasings", web.phrasings_page),
        Route("/phrasings/{index:int}/forget", web.forget_form, methods=["POST"]),
        Route("/cards", web.cards_page),
        Route("/cards", web.assign_form, methods=["POST"]),
        Route("/cards/find", web.find_form),
        Route("/cards/{uid}/remove", web.remove_form, methods=["POST"]),
        Route("/speakers", web.speakers_page),
        Route("/speakers", web.alias_form, methods=["POST"]),
        Route("/speakers/default", web.default_speaker_form, methods=["POST"]),
        Route("/settings", web.settings_page),
        Route("/settings", web.settings_form, methods=["POST"]),
        Route("/spotify/sign-out", web.spotify_sign_out, methods=["POST"]),
        Route("/spotify/pairing.svg", web.pairing_qr),
        Route("/api/state", api.state),
        Route("/api/history", api.history),
        Route("/api/command", api.command, methods=["POST"]),
        Route("/api/events", api.events),
        Route("/api/corrections", api.phrasings),
        Route("/api/corrections", api.correct, methods=["POST"]),
        Route("/api/corrections/{index:int}", api.forget, methods=["DELETE"]),
        Route("/api/intents", api.intents),
        Route("/api/names/{kind}", api.names),
        Route("/api/cards", api.cards),
        Route("/api/cards/find", api.find),
        Route("/api/cards/{uid}", api.assign, methods=["PUT"]),
        Route("/api/cards/{uid}", api.remove, methods=["DELETE"]),
        Route("/api/speakers", api.speakers),
        Route("/api/speakers/aliases/{alias}", api.alias, methods=["PUT", "DELETE"]),
        Route("/api/settings", api.settings),
        Route("/api/settings", api.save_settings, methods=["PATCH"]),
        Route("/api/account", api.account),
        Route("/api/account", api.sign_out, methods=["DELETE"]),
        Mount("/static", StaticFiles(packages=[("maestro.web", "static")]), name="static"),
    ]
    # a hostile client's body is cut off before anything reads it: forms and JSON here are small
    middleware = [Middleware(SecurityHeaders), Middleware(BodyLimitMiddleware, max_bytes=MAX_BODY_BYTES)]
    return Starlette(routes=routes, middleware=middleware)
