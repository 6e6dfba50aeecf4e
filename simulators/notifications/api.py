"""HTTP surface of the notification-service simulator: `POST /notifications` and its inspection."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from simulators.kit.control import control_router, simulator_app
from simulators.kit.faults import fault_gate
from simulators.kit.inbox import receive_signed
from simulators.notifications.sim import NotificationsConfig, NotificationsSim


def _service(request: Request) -> NotificationsSim:
    service: NotificationsSim = request.app.state.notifications
    return service


def notification_routes() -> APIRouter:
    """The receiver plus `GET /_control/notifications`; the app's `state.notifications` serves."""
    router = APIRouter()

    @router.post("/notifications", response_model=None, dependencies=[Depends(fault_gate)])
    async def notification(request: Request) -> dict[str, Any] | JSONResponse:
        outcome = await receive_signed(request, _service(request).inbox)
        if isinstance(outcome, JSONResponse):
            return outcome
        message, new = outcome
        return {"status": "accepted" if new else "duplicate", "webhook_id": message.webhook_id}

    @router.get("/_control/notifications", tags=["control"])
    async def control_notifications(
        request: Request, kind: str | None = None, business_key: str | None = None
    ) -> dict[str, Any]:
        inbox = _service(request).inbox
        items = [
            m
            for m in inbox.messages.values()
            if kind in (None, m.payload.get("kind"))
            and business_key in (None, m.payload.get("business_key"))
        ]
        return inbox.summary(items)

    @router.get("/_control/action-links", tags=["control"])
    async def control_action_links(
        request: Request, business_key: str | None = None, principal: str | None = None
    ) -> dict[str, Any]:
        """The approvers' action links received so far (what their e-mails would hold)."""
        links = [
            {
                "business_key": m.payload.get("business_key"),
                "kind": m.payload.get("kind"),
                "principal": person,
                "stage": (m.payload.get("approval") or {}).get("stage"),
                "expires_at": (m.payload.get("approval") or {}).get("closes_at"),
                "links": person_links,
            }
            for m in _service(request).inbox.messages.values()
            for person, person_links in (m.payload.get("action_links") or {}).items()
            if business_key in (None, m.payload.get("business_key")) and principal in (None, person)
        ]
        return {"count": len(links), "results": links}

    return router


def create_app(config: NotificationsConfig | None = None) -> FastAPI:
    """The notification service alone; its state is `app.state.sim` (a NotificationsSim)."""
    service = NotificationsSim(config or NotificationsConfig())
    app = simulator_app(
        "Notification service simulator",
        service,
        notification_routes(),
        control_router(),
        error_body=lambda status, message: {"error": message},
    )
    app.state.notifications = service
    return app
