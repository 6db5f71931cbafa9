"""`/metrics`: the app's Prometheus metrics, for a scraper (see `cinesonic.metrics`).

Mounted at the root beside the probes and, like them, outside the global rate limit. Answers
404 when `metrics_enabled` is off; with `metrics_token` set, 401 unless the scraper presents it.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse

from cinesonic import metrics
from cinesonic.deps import State
from cinesonic.errors import error_responses

router = APIRouter(tags=["health"])


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    summary="Prometheus metrics",
    description="Requests by method, route and status with their latency; jobs by status and "
    "queue and job durations; the database pool; WebSocket connections; process and build "
    "information. Prometheus text format (OpenMetrics when the `Accept` header asks for it). "
    "With `CINESONIC_METRICS_TOKEN` set, send `Authorization: Bearer <token>`.",
    responses={
        200: {
            "description": "The metrics in the Prometheus text exposition format.",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **error_responses(metrics.MetricsTokenRequired, metrics.MetricsDisabled),
    },
)
async def read_metrics(request: Request, state: State) -> Response:
    metrics.authorize_scrape(state.settings, request.headers.get("authorization"))
    hub = getattr(request.app.state, "hub", None)
    body, content_type = await state.metrics.scrape(
        state.db,
        websocket_connections=len(hub.connections) if hub is not None else None,
        accept=request.headers.get("accept", ""),
    )
    return Response(body, media_type=content_type)
