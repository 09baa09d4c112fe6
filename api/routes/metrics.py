"""``GET /metrics``: the platform's health in the Prometheus text exposition format (0.0.4).

It needs the ``read`` scope: the figures hold nothing personal, but refusal counts and volumes are
an operator's business (Prometheus sends the token with ``authorization: {credentials: ...}``).
Reading counters count since this process started; the log figures are the ledger's own.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from api.auth import READ, require
from api.platform import Platform
from domain.refusals import Refusal

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Every reason is reported, at 0 before its first occurrence, so that rates and alerts see it.
KNOWN_REFUSALS = tuple(Refusal)


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Exposition:
    """Lines of the Prometheus text format, one metric family at a time."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")

    def sample(self, name: str, value: float, labels: dict[str, str] | None = None) -> None:
        text = repr(value) if isinstance(value, float) else str(value)
        if labels:
            inner = ",".join(f'{k}="{_label(v)}"' for k, v in sorted(labels.items()))
            self.lines.append(f"{name}{{{inner}}} {text}")
        else:
            self.lines.append(f"{name} {text}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def exposition(platform: Platform, now: float) -> str:
    """Return the platform's metrics as Prometheus text."""
    out = Exposition()
    out.family(
        "carbonledger_readings_accepted_total",
        "counter",
        "Signed readings accepted by this process.",
    )
    out.sample("carbonledger_readings_accepted_total", platform.accounts.accepted_readings)
    out.family(
        "carbonledger_readings_refused_total",
        "counter",
        "Signed readings refused by this process, by reason.",
    )
    refusals = platform.reading_refusals()
    for reason in sorted(KNOWN_REFUSALS):
        out.sample("carbonledger_readings_refused_total", refusals[reason], {"reason": reason})

    ledger = platform.ledger
    size, integrated = ledger.log.position()
    stored = ledger.store.max_notification_id()
    out.family("carbonledger_log_size", "gauge", "Leaves in the Merkle log (integrated events).")
    out.sample("carbonledger_log_size", size)
    out.family(
        "carbonledger_integrator_lag_events",
        "gauge",
        "Events stored but not yet in the log (at most; PostgreSQL ids may have gaps).",
    )
    out.sample("carbonledger_integrator_lag_events", max(0, stored - integrated))
    latest = ledger.log.latest_checkpoint()
    out.family(
        "carbonledger_checkpoint_size", "gauge", "Tree size of the latest signed checkpoint."
    )
    out.sample("carbonledger_checkpoint_size", 0 if latest is None else latest.checkpoint.size)
    if latest is not None:
        out.family(
            "carbonledger_checkpoint_timestamp_seconds",
            "gauge",
            "When the latest checkpoint was signed (Unix time).",
        )
        out.sample("carbonledger_checkpoint_timestamp_seconds", float(latest.signed_at))
        out.family(
            "carbonledger_checkpoint_age_seconds",
            "gauge",
            "Seconds since the latest checkpoint was signed.",
        )
        out.sample(
            "carbonledger_checkpoint_age_seconds", round(max(0.0, now - latest.signed_at), 3)
        )
    return out.text()


def metrics(request: Request) -> Response:
    require(request, READ)
    platform: Platform = request.app.state.platform
    return Response(
        exposition(platform, time.time()),
        media_type=CONTENT_TYPE,
        headers={"Cache-Control": "no-store"},
    )


ROUTES = [Route("/metrics", metrics, methods=["GET"])]
