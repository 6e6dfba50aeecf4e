"""Standard Webhooks status reports and notifications, verified by the CRM simulator."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.http.errors import (
    ExternalServiceError,
    PermanentServiceError,
    RetryableServiceError,
)
from activities.http.webhooks import DeliveryAbortedError, EndpointGoneError, WebhookSender
from activities.notifications import NotificationActivities
from activities.source_systems import SourceSystemActivities
from docflow.models import (
    Notification,
    NotificationKind,
    ReportOutcome,
    SignerOutcome,
    SourceRecord,
    SourceReport,
)
from docflow.models.delivery import OutboundMessage
from docflow.settings import Settings
from tests.activities.simulated import Sim

CRM_SECRET = "whsec_ZGV2LWNybS13ZWJob29rLXNlY3JldC0xMjM0"


def _report(key: str = "SFDC-Q-1001:completed", system: str = "SFDC") -> SourceReport:
    return SourceReport(
        idempotency_key=key,
        business_key="SFDC-Q-1001",
        source=SourceRecord(system=system, record_type="Opportunity", record_id="0065g00000XYZ"),
        outcome=ReportOutcome.COMPLETED,
        reason="signed and archived",
        occurred_at=datetime(2026, 11, 2, 12, 0, tzinfo=UTC),
        document_version=1,
        signers=[
            SignerOutcome(email="ann@example.com", signed_on=datetime(2026, 11, 2, tzinfo=UTC))
        ],
        workspace_id=100001,
        archived_node_id=100004,
    )


@pytest.fixture
def reports(http: httpx.AsyncClient, settings: Settings) -> SourceSystemActivities:
    return SourceSystemActivities(http, settings)


def _to(settings: Settings, endpoint: str) -> Settings:
    """The suite's settings with SFDC's reports sent to `endpoint` (a registry override)."""
    return settings.with_overrides(source_systems={"endpoints": {"SFDC": endpoint}})


def _bundle_with(settings: Settings, tmp_path: Path, system: str, **entry: object) -> Settings:
    """A copy of the suite's bundle with one registry entry changed."""
    config_dir = tmp_path / "config"
    shutil.copytree(settings.bundle_dir, config_dir / settings.profile)
    path = config_dir / settings.profile / "source-systems.json"
    registry = json.loads(path.read_text())
    registry["systems"][system].update(entry)
    path.write_text(json.dumps(registry))
    return settings.with_overrides(config_dir=str(config_dir))


@pytest.fixture
def notifications(http: httpx.AsyncClient, settings: Settings) -> NotificationActivities:
    sender = WebhookSender(http, settings.secret(settings.notifications.webhook_secret))
    return NotificationActivities(sender, settings)


async def test_report_is_verified_and_applied_by_the_crm(
    reports: SourceSystemActivities, activity_env: ActivityEnvironment, crm_sim: Sim
) -> None:
    await activity_env.run(reports.report_to_source, _report())
    await activity_env.run(reports.report_to_source, _report())  # a retry after a lost answer

    received = await crm_sim.control("GET", "/reports")
    assert received["rejected"] == 0
    assert received["count"] == 1 and received["duplicates"] == 1
    message = received["results"][0]
    assert message["webhook_id"] == message["idempotency_key"] == "SFDC-Q-1001:completed"
    assert message["payload"]["outcome"] == "completed"
    assert message["payload"]["signers"][0]["email"] == "ann@example.com"

    records = await crm_sim.control("GET", "/records")
    assert records["results"][0]["signature_status"] == "completed"
    assert records["results"][0]["archived_node_id"] == 100004


async def test_report_goes_to_the_registered_endpoint_of_the_records_system(
    http: httpx.AsyncClient,
    settings: Settings,
    activity_env: ActivityEnvironment,
    crm_sim: Sim,
    erp_sim: Sim,
) -> None:
    reports = SourceSystemActivities(http, settings)
    await activity_env.run(reports.report_to_source, _report(system="SAP"))
    # SAP's reports go to the ERP, signed with SAP's own secret; the CRM gets nothing.
    received = await erp_sim.control("GET", "/reports")
    assert received["count"] == 1 and received["rejected"] == 0
    assert (await crm_sim.control("GET", "/reports"))["count"] == 0


async def test_a_delivery_is_a_signed_standard_webhooks_message_applied_once(
    reports: SourceSystemActivities, activity_env: ActivityEnvironment, crm_sim: Sim
) -> None:
    message = OutboundMessage(
        target="SFDC",
        event_type="signing.completed",
        idempotency_key="SFDC-Q-1001:completed",
        business_key="SFDC-Q-1001",
        payload={"outcome": "completed"},
    )
    await activity_env.run(reports.deliver_message, message)
    await activity_env.run(reports.deliver_message, message)  # a redelivery
    received = await crm_sim.control("GET", "/reports")
    assert received["rejected"] == 0 and received["duplicates"] == 1
    delivered = received["results"][0]
    assert delivered["webhook_id"] == "SFDC-Q-1001:completed"
    assert delivered["payload"]["type"] == "signing.completed"
    assert delivered["payload"]["data"] == {"outcome": "completed"}
    with pytest.raises(ApplicationError) as error:
        await activity_env.run(
            reports.deliver_message, message.model_copy(update={"target": "EVIL"})
        )
    assert error.value.non_retryable


async def test_an_unregistered_system_is_a_permanent_error(
    reports: SourceSystemActivities, activity_env: ActivityEnvironment, crm_sim: Sim
) -> None:
    with pytest.raises(ApplicationError) as error:
        await activity_env.run(reports.report_to_source, _report(system="EVIL"))
    assert error.value.non_retryable
    assert error.value.type == "SourceSystemNotRegistered"
    assert "'EVIL' is not registered" in error.value.message
    assert (await crm_sim.control("GET", "/reports"))["count"] == 0


@pytest.mark.parametrize(
    "endpoint",
    ["http://evil.example.com/steal", "file:///etc/passwd", "ftp://127.0.0.1/webhooks"],
)
async def test_an_endpoint_outside_the_allowed_hosts_is_never_called(
    endpoint: str, http: httpx.AsyncClient, settings: Settings, activity_env: ActivityEnvironment
) -> None:
    reports = SourceSystemActivities(http, _to(settings, endpoint))
    with pytest.raises(ApplicationError) as error:
        await activity_env.run(reports.report_to_source, _report())
    assert error.value.non_retryable
    assert error.value.type == "EndpointNotAllowed"


async def test_other_4xx_is_permanent(
    http: httpx.AsyncClient, settings: Settings, activity_env: ActivityEnvironment, crm_sim: Sim
) -> None:
    reports = SourceSystemActivities(http, _to(settings, f"{crm_sim.url}/no-such-endpoint"))
    with pytest.raises(ApplicationError) as error:
        await activity_env.run(reports.report_to_source, _report())
    assert error.value.non_retryable
    assert error.value.type == "PermanentServiceError"
    assert (await crm_sim.control("GET", "/reports"))["count"] == 0


async def test_wrong_secret_is_refused_and_not_retried(
    http: httpx.AsyncClient,
    settings: Settings,
    activity_env: ActivityEnvironment,
    crm_sim: Sim,
    tmp_path: Path,
) -> None:
    wrong = _bundle_with(settings, tmp_path, "SFDC", webhook_secret="value:whsec_d3Jvbmctc2VjcmV0")
    forged = SourceSystemActivities(http, wrong)
    with pytest.raises(ApplicationError) as error:
        await activity_env.run(forged.report_to_source, _report())
    assert error.value.non_retryable
    received = await crm_sim.control("GET", "/reports")
    assert received["rejected"] == 1 and received["count"] == 0


@pytest.mark.parametrize("status", [429, 502, 503, 504])
async def test_back_off_statuses_are_retryable_with_retry_after(
    status: int, reports: SourceSystemActivities, activity_env: ActivityEnvironment, crm_sim: Sim
) -> None:
    await crm_sim.fail_next(status, retry_after_s=30, match="POST /webhooks/docflow")
    with pytest.raises(ApplicationError) as error:
        await activity_env.run(reports.report_to_source, _report())
    assert not error.value.non_retryable
    assert error.value.next_retry_delay == timedelta(seconds=30)
    await activity_env.run(reports.report_to_source, _report())  # the retry gets through
    assert (await crm_sim.control("GET", "/reports"))["count"] == 1


async def test_gone_endpoint_stops_delivery(
    http: httpx.AsyncClient,
    reports: SourceSystemActivities,
    activity_env: ActivityEnvironment,
    crm_sim: Sim,
) -> None:
    await crm_sim.fail_next(410, match="POST /webhooks/docflow")
    with pytest.raises(ApplicationError) as error:
        await activity_env.run(reports.report_to_source, _report())
    assert error.value.non_retryable
    assert error.value.type == "EndpointGoneError"

    await crm_sim.fail_next(410, match="POST /webhooks/docflow")
    with pytest.raises(EndpointGoneError):
        await WebhookSender(http, CRM_SECRET).send(f"{crm_sim.url}/webhooks/docflow", "m1", "{}")


async def test_notifications_to_people_and_to_the_support_queue(
    notifications: NotificationActivities,
    activity_env: ActivityEnvironment,
    settings: Settings,
    crm_sim: Sim,
) -> None:
    approval = Notification(
        idempotency_key="SFDC-Q-1001:legal:v1:requested",
        kind=NotificationKind.APPROVAL_REQUESTED,
        business_key="SFDC-Q-1001",
        recipients=["alice", "bob"],
        subject="Approval needed",
    )
    exception = Notification(
        idempotency_key="SFDC-Q-1001:exception:1",
        kind=NotificationKind.SIGNATURE_EXCEPTION,
        business_key="SFDC-Q-1001",
        subject="Signature exception",
        data={"reason": "signer_email_bounced"},
    )
    await activity_env.run(notifications.notify, approval)
    await activity_env.run(notifications.notify, exception)
    await activity_env.run(notifications.notify, exception)

    received = await crm_sim.control("GET", "/notifications")
    assert received["rejected"] == 0 and received["count"] == 2 and received["duplicates"] == 1
    by_key = {m["webhook_id"]: m["payload"] for m in received["results"]}
    assert by_key[approval.idempotency_key]["recipients"] == ["alice", "bob"]
    assert by_key[approval.idempotency_key]["support_queue"] is None
    assert by_key[exception.idempotency_key]["recipients"] == []
    assert (
        by_key[exception.idempotency_key]["support_queue"] == settings.notifications.support_queue
    )
    assert by_key[exception.idempotency_key]["data"] == {"reason": "signer_email_bounced"}


async def test_connection_refused_is_retryable(
    http: httpx.AsyncClient, settings: Settings, activity_env: ActivityEnvironment
) -> None:
    reports = SourceSystemActivities(http, _to(settings, "http://127.0.0.1:9/webhooks"))
    with pytest.raises(ApplicationError) as error:
        await activity_env.run(reports.report_to_source, _report())
    assert not error.value.non_retryable


@pytest.mark.parametrize(
    ("status", "headers", "expected"),
    [
        (503, {"webhook-delivery": "abort-message"}, DeliveryAbortedError),
        (400, {"Webhook-Delivery": "Abort-Message"}, DeliveryAbortedError),
        (503, {"webhook-delivery": "something-else"}, RetryableServiceError),
        (410, {}, EndpointGoneError),
        (422, {}, PermanentServiceError),
    ],
)
async def test_abort_message_and_the_answers_excerpt(
    status: int, headers: dict[str, str], expected: type[Exception]
) -> None:
    body = {"errors": [{"field": "price", "message": "is required"}]}

    def receiver(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body, headers=headers)

    async with httpx.AsyncClient(transport=httpx.MockTransport(receiver)) as client:
        with pytest.raises(expected) as error:
            await WebhookSender(client, CRM_SECRET).send("http://receiver/hook", "m1", "{}")
    assert type(error.value) is expected
    assert isinstance(error.value, ExternalServiceError)
    assert json.loads(error.value.excerpt) == body
