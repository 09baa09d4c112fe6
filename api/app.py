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

from api.background import BackgroundWorker
from api.openapi import openapi_document
from api.platform import Platform
from api.problems import (
    Problem,
    handle_domain_error,
    handle_http_exception,
    handle_ledger_error,
    handle_problem,
    handle_unexpected,
    json_response,
)
from api.routes import accounts as account_routes
from api.routes import ingest as ingest_routes
from api.routes import log as log_routes
from api.routes import metrics as metrics_routes
from domain.errors import DomainError
from ledger.errors import LedgerError
from ledger.ledger import Ledger


def create_app(
    ledger: Ledger, *, integrate: bool = False, platform: Platform | None = None
) -> Starlette:
    """Build the app around an open ledger. With ``integrate``, a background process integrates
    new events, signs checkpoints and keeps the read models up to date for as long as it serves.
    Without a ``platform`` (the ledger's carbon accounts and operator tokens) one is configured
    from the ledger's data directory and closed with the app."""
    owned = platform is None
    served = Platform.around(ledger) if platform is None else platform
    if served.ledger is not ledger:
        raise ValueError("the platform must be built around the same ledger")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        worker = BackgroundWorker(ledger.data_dir) if integrate else None
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()
            if owned:
                served.close()

    def openapi(request: Request) -> Response:
        return json_response(openapi_document(), cache="public, max-age=60")

    routes = [
        Route("/openapi.json", openapi),
        *log_routes.ROUTES,
        *ingest_routes.ROUTES,
        *account_routes.ROUTES,
        *metrics_routes.ROUTES,
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            Problem: handle_problem,
            DomainError: handle_domain_error,
            LedgerError: handle_ledger_error,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
        },
        lifespan=lifespan,
    )
    app.state.ledger = ledger
    app.state.platform = served
    return app
