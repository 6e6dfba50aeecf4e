"""Core Signature callbacks without HTTP: parsing, event_hash, event mapping."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from activities.core_signature.callbacks import (
    MalformedCallback,
    UntrustedCallback,
    event_hash,
    needs_signal,
    parse_callback,
    signature_event,
    verify_callback,
)
from docflow.models import SignatureEventType

KEY = b"callback-test-key"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _body(event_type: str = "declined", *, at: datetime = NOW, key: bytes = KEY) -> bytes:
    event_time = str(int(at.timestamp()))
    body: dict[str, Any] = {
        "uuid": "evt-1",
        "status": "ok",
        "event_type": event_type,
        "event_time": event_time,
        "event_hash": event_hash(key, event_time, event_type),
        "document": {"uuid": "doc-1", "external_id": "SFDC-Q-1#1", "status": "de"},
        "signer": {"email": "ann@example.com", "message": "wrong price"},
    }
    return json.dumps(body).encode()


def test_a_signed_fresh_callback_maps_to_a_signature_event() -> None:
    callback = parse_callback(_body())

    occurred_at = verify_callback(callback, KEY)
    event = signature_event(callback, occurred_at)

    assert occurred_at == NOW
    assert event is not None
    assert (event.event_id, event.event_type, event.event_time) == (
        "evt-1",
        SignatureEventType.DECLINED,
        NOW,
    )
    assert (event.document_uuid, event.external_id) == ("doc-1", "SFDC-Q-1#1")
    assert (event.signer_email, event.detail, event.source) == (
        "ann@example.com",
        "wrong price",
        "callback",
    )


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"[]", json.dumps({"uuid": "x", "event_type": "signed"}).encode()],
    ids=["not-json", "not-an-object", "no-document"],
)
def test_malformed_bodies_are_refused(raw: bytes) -> None:
    with pytest.raises(MalformedCallback):
        parse_callback(raw)


def test_integer_event_time_is_hashed_as_its_text() -> None:
    payload = json.loads(_body())
    payload["event_time"] = int(payload["event_time"])

    callback = parse_callback(json.dumps(payload).encode())

    assert verify_callback(callback, KEY) == NOW


def test_a_wrong_key_is_refused() -> None:
    with pytest.raises(UntrustedCallback, match="event_hash"):
        verify_callback(parse_callback(_body(key=b"another-key")), KEY)


@pytest.mark.parametrize("at", [NOW - timedelta(hours=2), NOW + timedelta(hours=1)])
def test_age_is_no_reason_to_refuse_a_correctly_hashed_callback(at: datetime) -> None:
    """The vendor retries for ~90 minutes; the workflow confirms claims, so late is fine."""
    assert verify_callback(parse_callback(_body(at=at)), KEY) == at


def test_a_changed_event_type_breaks_the_hash() -> None:
    payload = json.loads(_body("signer_signed"))
    payload["event_type"] = "signed"

    with pytest.raises(UntrustedCallback):
        verify_callback(parse_callback(json.dumps(payload).encode()), KEY)


def test_unknown_event_types_map_to_nothing() -> None:
    callback = parse_callback(_body("team_created"))

    assert signature_event(callback, NOW) is None


@pytest.mark.parametrize(
    ("event_type", "signalled"),
    [
        ("converted", False),
        ("sent", False),
        ("downloaded", False),
        ("viewed", True),
        ("signer_signed", True),
        ("signed", True),
        ("declined", True),
    ],
)
def test_only_events_docflow_did_not_cause_itself_need_a_signal(
    event_type: str, signalled: bool
) -> None:
    event = signature_event(parse_callback(_body(event_type)), NOW)

    assert event is not None
    assert needs_signal(event) is signalled
