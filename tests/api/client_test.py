"""Pure helpers of starter.processes: the Temporal-unavailable classifier, external ids, links."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf.any_pb2 import Any
from temporalio.api.common.v1 import GrpcStatus
from temporalio.api.errordetails.v1 import WorkflowNotReadyFailure
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.service import RPCError, RPCStatusCode

from docflow.correlation import business_key_from_external_id
from docflow.docstore import LocalDocumentStore
from starter.processes.base import TemporalUnavailable, temporal_unavailable
from starter.processes.signing import SigningProcesses
from tests.api.conftest import closed_port, make_settings


def _not_ready() -> RPCError:
    """What a query gets while a crashed worker's workflow task is being retried."""
    detail = Any()
    detail.Pack(WorkflowNotReadyFailure())
    status = GrpcStatus(
        code=RPCStatusCode.FAILED_PRECONDITION, message="not ready", details=[detail]
    )
    return RPCError("not ready", RPCStatusCode.FAILED_PRECONDITION, status.SerializeToString())


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (RPCError("down", RPCStatusCode.UNAVAILABLE, b""), True),
        (RPCError("slow", RPCStatusCode.DEADLINE_EXCEEDED, b""), True),
        (RPCError("Timeout expired", RPCStatusCode.CANCELLED, b""), True),
        (RPCError("transport error", RPCStatusCode.UNKNOWN, b""), True),
        (RPCError("consistent query buffer is full", RPCStatusCode.RESOURCE_EXHAUSTED, b""), True),
        (RPCError("odd", RPCStatusCode.UNKNOWN, b""), False),
        (_not_ready(), True),
        (
            RPCError(
                "no poller seen for task queue recently, worker may be down",
                RPCStatusCode.FAILED_PRECONDITION,
                b"",
            ),
            True,
        ),
        (RPCError("other precondition", RPCStatusCode.FAILED_PRECONDITION, b""), False),
        (RPCError("missing", RPCStatusCode.NOT_FOUND, b""), False),
        (RPCError("bad", RPCStatusCode.INVALID_ARGUMENT, b""), False),
        (RuntimeError("Failed client connect: Server connection error: refused"), True),
        (RuntimeError("something else"), False),
        (ConnectionRefusedError("refused"), True),
        (TimeoutError(), True),
        (ValueError("bug"), False),
    ],
)
def test_temporal_unavailable(error: Exception, unavailable: bool) -> None:
    assert temporal_unavailable(error) is unavailable


@pytest.mark.parametrize(
    ("external_id", "business_key"),
    [
        ("SFDC-Q-1001#1", "SFDC-Q-1001"),
        ("ERP:PO.77#12", "ERP:PO.77"),
        ("SFDC-Q-1001", None),
        ("SFDC-Q-1001#0", None),
        ("SFDC-Q-1001#x", None),
        ("#1", None),
        ("a b#1", None),
        (None, None),
    ],
)
def test_business_key_from_external_id(external_id: str | None, business_key: str | None) -> None:
    assert business_key_from_external_id(external_id) == business_key


async def test_calls_against_an_unreachable_server_raise_temporal_unavailable(
    tmp_path: Path, task_queue: str
) -> None:
    client = await Client.connect(
        f"127.0.0.1:{closed_port()}", lazy=True, data_converter=pydantic_data_converter
    )
    settings = make_settings(tmp_path, task_queue)
    processes = SigningProcesses(client, settings, LocalDocumentStore(tmp_path))

    with pytest.raises(TemporalUnavailable):
        await processes.status("K-1")
    with pytest.raises(TemporalUnavailable):
        await processes.cancel("K-1", "ops@example.com", "test")
    assert processes.web_ui_url("Q:1", "r1") == (
        "http://ui.test/namespaces/default/workflows/signing-Q%3A1/r1/history"
    )
