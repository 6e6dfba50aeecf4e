"""HTTP surface of the CRM simulator: the business system's routes plus the notification service."""

from __future__ import annotations

from fastapi import FastAPI

from simulators.crm.sim import CrmConfig, CrmSim
from simulators.kit.business_api import business_api_routes, business_control_routes
from simulators.kit.control import simulator_app
from simulators.notifications import notification_routes


def create_app(config: CrmConfig | None = None) -> FastAPI:
    """The CRM simulator with the notification service on the same port.

    Its state is `app.state.sim` (a CrmSim); `app.state.notifications` is the CrmSim's.
    """
    sim = CrmSim(config or CrmConfig())
    app = simulator_app(
        "CRM and notification simulator",
        sim,
        business_api_routes(),
        notification_routes(),
        business_control_routes(),
        error_body=lambda status, message: {"error": message},
    )
    app.state.notifications = sim.notifications
    return app
