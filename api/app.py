"""The Starlette application, assembled in one place from the route tables beside what they
expose."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.openapi import openapi_document
from api.problems import (
    Problem,
    handle_http_exception,
    handle_problem,
    handle_unexpected,
    json_response,
)
from api.routes import log as log_routes
from ledger.integrator import IntegratorLoop
from ledger.ledger import Ledger


def create_app(ledger: Ledger, *, integrate: bool = False) -> Starlette:
    """Build the app around an open ledger; with ``integrate``, it also runs the integrator loop
    for as long as it serves."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        loop = IntegratorLoop(ledger.log) if integrate else None
        if loop is not None:
            loop.start()
        try:
            yield
        finally:
            if loop is not None:
                loop.stop()

    def openapi(request: Request) -> Response:
        return json_response(openapi_document(), cache="public, max-age=60")

    routes = [Route("/openapi.json", openapi), *log_routes.ROUTES]
    app = Starlette(
        routes=routes,
        exception_handlers={
            Problem: handle_problem,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
        },
        lifespan=lifespan,
    )
    app.state.ledger = ledger
    return app
