"""Core Signature simulator over real HTTP: OAuth2, documents, signing, events, callbacks."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pypdf

from simulators.core_signature import CoreSignatureSim, event_hash
from tests.simulators.conftest import CallbackReceiver, Served

TOKEN_PATH = "/tenants/docflow/oauth2/token"
PDF = b"%PDF-1.4\n% a contract\n"


async def bearer(client: httpx.AsyncClient) -> dict[str, str]:
    response = await client.post(
        TOKEN_PATH,
        data={"grant_type": "client_credentials"},
        auth=("docflow-dev", "dev-core-signature-secret"),
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def create_document(
    client: httpx.AsyncClient, auth: dict[str, str], external_id: str, callback: str | None
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/documents/",
        headers=auth,
        json={
            "file_from_content": base64.b64encode(PDF).decode(),
            "file_from_content_name": "contract.pdf",
            "external_id": external_id,
            "events_callback_url": callback,
            "auto_expire_days": 30,
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


async def send_for_signing(
    client: httpx.AsyncClient,
    auth: dict[str, str],
    document_url: str,
    emails: tuple[str, ...] = ("alice@example.com", "bob@example.com"),
) -> httpx.Response:
    return await client.post(
        "/api/v1/signature-requests/",
        headers=auth,
        json={
            "document": document_url,
            "signers": [
                {"email": e, "first_name": e.split("@")[0].title(), "order": i}
                for i, e in enumerate(emails)
            ],
            "from_email": "contracts@example.com",
            "subject": "Please sign",
            "message": "Thanks",
            "who": "o",
            "send_reminders": False,
        },
    )


async def flush(sim: Served) -> None:
    response = await sim.client.post("/_control/callbacks/flush", params={"timeout_s": 5})
    assert response.json() == {"idle": True}


async def test_token_flow_and_bearer_required(core_sig: Served) -> None:
    client = core_sig.client
    wrong = await client.post(
        TOKEN_PATH, data={"grant_type": "client_credentials"}, auth=("docflow-dev", "nope")
    )
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"

    missing = await client.get("/api/v1/documents/")
    assert missing.status_code == 401
    assert missing.json() == {"detail": "Authentication credentials were not provided."}

    auth = await bearer(client)
    token = await client.post(
        TOKEN_PATH,
        data={"grant_type": "client_credentials"},
        auth=("docflow-dev", "dev-core-signature-secret"),
    )
    assert token.json()["token_type"] == "Bearer"
    assert token.json()["expires_in"] == 900  # an OCP client-credentials token
    page = await client.get("/api/v1/documents/", headers=auth)
    assert page.status_code == 200
    assert page.json() == {"count": 0, "next": None, "previous": None, "results": []}

    revoked = await client.post("/_control/tokens/revoke")
    assert revoked.json()["revoked"] >= 1
    assert (await client.get("/api/v1/documents/", headers=auth)).status_code == 401
    assert (await client.get("/api/v1/documents/", headers=await bearer(client))).status_code == 200


async def test_expired_token_is_refused(core_sig: Served) -> None:
    auth = await bearer(core_sig.client)
    sim: CoreSignatureSim = core_sig.app.state.sim
    token = auth["Authorization"].split()[1]
    sim.tokens[token] = datetime.now(UTC) - timedelta(seconds=1)
    response = await core_sig.client.get("/api/v1/documents/", headers=auth)
    assert response.status_code == 401


async def test_sign_flow_delivers_verified_callbacks(
    core_sig: Served, receiver: CallbackReceiver
) -> None:
    client = core_sig.client
    auth = await bearer(client)
    doc = await create_document(client, auth, "SFDC-Q-1001", receiver.url)
    assert doc["status"] == "co"
    assert doc["url"] == f"{core_sig.base_url}/api/v1/documents/{doc['uuid']}/"

    request = await send_for_signing(client, auth, doc["url"])
    assert request.status_code == 201, request.text
    assert request.json()["document"] == doc["url"]
    assert [s["email"] for s in request.json()["signers"]] == [
        "alice@example.com",
        "bob@example.com",
    ]

    await client.post(f"/_control/documents/{doc['uuid']}/view", json={})
    one = await client.post(
        f"/_control/documents/{doc['uuid']}/sign", json={"email": "alice@example.com"}
    )
    assert one.json()["status"] == "vi"
    signed = (await client.post(f"/_control/documents/{doc['uuid']}/sign")).json()
    assert signed["status"] == "si"
    await flush(core_sig)

    types = [r["body"]["event_type"] for r in receiver.received]
    assert types == [
        "converted",
        "sent",
        "viewed",
        "signer_viewed_email",
        "signer_viewed",
        "signer_viewed_email",
        "signer_viewed",
        "signer_signed",
        "signer_signed",
        "signed",
    ]
    for item in receiver.received:
        body = item["body"]
        expected = event_hash("dev-event-hash-key", body["event_time"], body["event_type"])
        assert hmac.compare_digest(body["event_hash"], expected)
        assert body["document"]["external_id"] == "SFDC-Q-1001"
        assert body["team"]["subdomain"] == "docflow"
        assert body["status"] == "ok"
        # The vendor's format: event_time is Unix seconds as a string, timestamp ISO-8601.
        assert body["event_time"].isdigit()
        stamped = datetime.fromisoformat(body["timestamp"])
        assert stamped.tzinfo is not None
        assert int(body["event_time"]) == int(stamped.timestamp())
    assert receiver.received[-1]["body"]["document"]["status"] == "si"
    assert receiver.received[7]["body"]["signer"]["email"] == "alice@example.com"

    fetched = (await client.get(f"/api/v1/documents/{doc['uuid']}/", headers=auth)).json()
    signers = fetched["signrequest"]["signers"]
    assert all(s["signed"] and s["signed_on"] for s in signers)
    pdf = await client.get(fetched["pdf"])
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert hashlib.sha256(pdf.content).hexdigest() == fetched["security_hash"]
    text = pypdf.PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert "Signed by Alice (alice@example.com)" in text
    log = await client.get(fetched["signing_log"]["pdf"])
    assert hashlib.sha256(log.content).hexdigest() == fetched["signing_log"]["security_hash"]
    log_text = pypdf.PdfReader(io.BytesIO(log.content)).pages[0].extract_text()
    assert "signer_signed" in log_text

    tampered = fetched["pdf"].replace("token=", "token=0")
    assert (await client.get(tampered)).status_code == 403

    events = await client.get(
        "/api/v1/events/",
        headers=auth,
        params={"document__uuid": doc["uuid"], "event_type": "signer_signed", "limit": 1},
    )
    page = events.json()
    assert page["count"] == 2
    assert len(page["results"]) == 1
    assert page["next"] is not None
    assert page["results"][0]["delivered"] is True
    second = await client.get(page["next"], headers=auth)
    assert second.json()["previous"] is not None

    deliveries = (await client.get("/_control/callbacks")).json()
    assert deliveries["by_state"] == {"delivered": 10}
    assert all(d["attempts"][0]["status_code"] == 200 for d in deliveries["results"])


async def test_second_signature_request_is_refused(core_sig: Served) -> None:
    client = core_sig.client
    auth = await bearer(client)
    doc = await create_document(client, auth, "SFDC-Q-2002", None)
    assert (await send_for_signing(client, auth, doc["url"])).status_code == 201
    again = await send_for_signing(client, auth, doc["url"])
    assert again.status_code == 400
    assert "document" in again.json()

    found = await client.get(
        "/api/v1/documents/", headers=auth, params={"external_id": "SFDC-Q-2002"}
    )
    assert found.json()["count"] == 1
    assert found.json()["results"][0]["signrequest"]["uuid"]
    control = (await client.get("/_control/signature-requests")).json()
    assert control["count_by_external_id"] == {"SFDC-Q-2002": 1}
    assert control["rejected_duplicates_by_external_id"] == {"SFDC-Q-2002": 1}


async def test_validation_errors_are_drf_shaped(core_sig: Served) -> None:
    client = core_sig.client
    auth = await bearer(client)
    missing = await client.post("/api/v1/documents/", headers=auth, json={"external_id": "x"})
    assert missing.status_code == 400
    assert missing.json() == {"file_from_content": ["This field is required."]}
    unknown = await send_for_signing(
        client, auth, f"{core_sig.base_url}/api/v1/documents/00000000-0000-0000-0000-000000000000/"
    )
    assert unknown.status_code == 400
    bad_email = await client.post(
        "/api/v1/signature-requests/",
        headers=auth,
        json={"document": "x", "signers": [{"email": "nope"}], "from_email": "a@example.com"},
    )
    assert bad_email.status_code == 400
    assert "signers" in bad_email.json()


async def test_cancel_decline_expire_and_errors(
    core_sig: Served, receiver: CallbackReceiver
) -> None:
    client = core_sig.client
    auth = await bearer(client)

    doc = await create_document(client, auth, "cancel-me", receiver.url)
    request = (await send_for_signing(client, auth, doc["url"])).json()
    cancel_path = f"/api/v1/signature-requests/{request['uuid']}/cancel_signrequest/"
    cancelled = await client.post(cancel_path, headers=auth)
    assert cancelled.status_code == 201  # the vendor's answer to both actions
    assert cancelled.json() == {"detail": "OK", "cancelled": True}
    assert (await client.post(cancel_path, headers=auth)).status_code == 201
    resend = f"/api/v1/signature-requests/{request['uuid']}/resend_signrequest_email/"
    assert (await client.post(resend, headers=auth)).status_code == 400

    doc = await create_document(client, auth, "decline-me", receiver.url)
    request = (await send_for_signing(client, auth, doc["url"])).json()
    assert (await client.post(resend, headers=auth)).status_code == 400  # old request
    resend = f"/api/v1/signature-requests/{request['uuid']}/resend_signrequest_email/"
    resent = await client.post(resend, headers=auth)
    assert (resent.status_code, resent.json()) == (201, {"detail": "OK"})
    await client.post(
        f"/_control/documents/{doc['uuid']}/bounce", json={"email": "bob@example.com"}
    )
    declined = await client.post(
        f"/_control/documents/{doc['uuid']}/decline",
        json={"email": "bob@example.com", "reason": "Wrong price"},
    )
    assert declined.json()["status"] == "de"
    bob = declined.json()["signrequest"]["signers"][1]
    assert bob["declined"] and bob["message"] == "Wrong price"
    assert (await client.post(f"/_control/documents/{doc['uuid']}/sign")).status_code == 409

    doc = await create_document(client, auth, "expire-me", receiver.url)
    await send_for_signing(client, auth, doc["url"])
    assert (await client.post(f"/_control/documents/{doc['uuid']}/expire")).json()["status"] == "xp"

    doc = await create_document(client, auth, "broken", receiver.url)
    assert (await client.post(f"/_control/documents/{doc['uuid']}/convert-error")).json()[
        "status"
    ] == "ec"
    assert (await send_for_signing(client, auth, doc["url"])).status_code == 400

    await flush(core_sig)
    seen = {
        (r["body"]["document"]["external_id"], r["body"]["event_type"]): r["body"]
        for r in receiver.received
    }
    assert ("cancel-me", "cancelled") in seen
    assert seen[("decline-me", "declined")]["signer"]["message"] == "Wrong price"
    assert seen[("decline-me", "signer_email_bounced")]["status"] == "error"
    assert seen[("decline-me", "signer_email_bounced")]["document"]["status"] == "se"
    assert ("expire-me", "expired") in seen
    assert seen[("broken", "convert_error")]["status"] == "error"
    documents = (await client.get("/_control/documents")).json()
    assert {d["external_id"]: d["status"] for d in documents["results"]} == {
        "cancel-me": "ca",
        "decline-me": "de",
        "expire-me": "xp",
        "broken": "ec",
    }


async def test_callback_retries_only_a_500_or_a_timeout(
    core_sig: Served, receiver: CallbackReceiver
) -> None:
    client = core_sig.client
    auth = await bearer(client)
    receiver.fail_next = 2
    await create_document(client, auth, "retry", receiver.url)
    await flush(core_sig)
    [delivery] = (await client.get("/_control/callbacks")).json()["results"]
    assert delivery["state"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 200]

    receiver.fail_next, receiver.fail_status = 1, 400
    await create_document(client, auth, "reject", receiver.url)
    await flush(core_sig)
    rejected = (await client.get("/_control/callbacks", params={"state": "rejected"})).json()
    assert [a["status_code"] for a in rejected["results"][0]["attempts"]] == [400]

    # "a timeout or a 500": a 503 ends the retries like any other answer.
    receiver.fail_next, receiver.fail_status = 1, 503
    await create_document(client, auth, "unavailable", receiver.url)
    await flush(core_sig)
    rejected = (await client.get("/_control/callbacks", params={"state": "rejected"})).json()
    assert [d["external_id"] for d in rejected["results"]] == ["reject", "unavailable"]
    assert [a["status_code"] for a in rejected["results"][1]["attempts"]] == [503]

    # Nobody listening: the sender gives up after max_attempts (4 in these tests).
    await create_document(client, auth, "nobody", "http://127.0.0.1:9/hook")
    await flush(core_sig)
    failed = (await client.get("/_control/callbacks", params={"state": "failed"})).json()
    assert len(failed["results"][0]["attempts"]) == 4
    assert failed["results"][0]["attempts"][0]["error"]


async def test_callback_drop_duplicate_reorder(
    core_sig: Served, receiver: CallbackReceiver
) -> None:
    client = core_sig.client
    auth = await bearer(client)
    await client.put("/_control/callbacks/faults", json={"drop_next": 1})
    await create_document(client, auth, "dropped", receiver.url)
    await flush(core_sig)
    assert receiver.received == []
    assert (await client.get("/_control/callbacks")).json()["by_state"] == {"dropped": 1}

    await client.put("/_control/callbacks/faults", json={"duplicate_min": 2, "duplicate_max": 2})
    await create_document(client, auth, "doubled", receiver.url)
    await flush(core_sig)
    assert len(receiver.received) == 2
    assert receiver.received[0]["body"]["uuid"] == receiver.received[1]["body"]["uuid"]

    receiver.reset()
    await client.put("/_control/callbacks/faults", json={"reorder_window": 3, "seed": 1})
    doc = await create_document(client, auth, "shuffled", receiver.url)
    await send_for_signing(client, auth, doc["url"])
    await asyncio.sleep(0.1)
    assert receiver.received == []  # two events are held until the window fills or flushes
    await client.post(f"/_control/documents/{doc['uuid']}/view", json={"email": "bob@example.com"})
    await flush(core_sig)
    assert len(receiver.received) == 5
    events = (await client.get("/_control/events", params={"document_uuid": doc["uuid"]})).json()
    delivered = {r["body"]["uuid"] for r in receiver.received}
    assert delivered == {e["uuid"] for e in events["results"]}

    receiver.reset()
    first = events["results"][0]
    again = await client.post(f"/_control/events/{first['uuid']}/redeliver")
    assert again.status_code == 200
    await flush(core_sig)
    assert receiver.received[0]["body"]["event_time"] == first["callback"]["event_time"]


async def test_api_faults(core_sig: Served) -> None:
    client = core_sig.client
    auth = await bearer(client)
    await client.put(
        "/_control/faults",
        json={
            "fail_next": {
                "count": 2,
                "status": 503,
                "retry_after_s": 3,
                "match": "GET /api/v1/documents/",
            }
        },
    )
    # The token endpoint does not match, so only the two document listings fail.
    auth = await bearer(client)
    for _ in range(2):
        failed = await client.get("/api/v1/documents/", headers=auth)
        assert failed.status_code == 503
        assert failed.headers["retry-after"] == "3"
    assert (await client.get("/api/v1/documents/", headers=auth)).status_code == 200

    await client.put("/_control/faults", json={"rate_limit_every": 2, "retry_after_s": 7})
    statuses = [(await client.get("/api/v1/documents/", headers=auth)) for _ in range(4)]
    assert [r.status_code for r in statuses] == [200, 429, 200, 429]
    assert statuses[1].headers["retry-after"] == "7"
    assert (await client.get("/_control/documents")).status_code == 200  # never faulted
    snapshot = (await client.get("/_control/faults")).json()
    assert [i["status"] for i in snapshot["injected"]] == [429, 429]


async def test_autopilot_by_email_tag(core_sig: Served, receiver: CallbackReceiver) -> None:
    client = core_sig.client
    auth = await bearer(client)
    await client.put("/_control/autopilot", json={"enabled": True, "after_ms": 0, "action": "sign"})
    declined = await create_document(client, auth, "auto-1", receiver.url)
    await send_for_signing(client, auth, declined["url"], ("sign+decline@example.com",))
    signed = await create_document(client, auth, "auto-2", receiver.url)
    await send_for_signing(client, auth, signed["url"], ("carol@example.com",))
    manual = await create_document(client, auth, "auto-3", receiver.url)
    await send_for_signing(client, auth, manual["url"], ("dave+manual@example.com",))
    await asyncio.sleep(0.05)
    await flush(core_sig)
    statuses = {
        d["external_id"]: d["status"]
        for d in (await client.get("/_control/documents")).json()["results"]
    }
    assert statuses == {"auto-1": "de", "auto-2": "si", "auto-3": "se"}


async def test_templates_are_listed_read_and_made_through_control(core_sig: Served) -> None:
    client = core_sig.client
    auth = await bearer(client)
    assert (await client.get("/api/v1/templates/")).status_code == 401
    page = (await client.get("/api/v1/templates/", headers=auth, params={"limit": 2})).json()
    assert page["count"] == 3 and page["previous"] is None and page["next"]
    names = [t["name"] for t in page["results"]]
    rest = (await client.get(page["next"], headers=auth)).json()
    names += [t["name"] for t in rest["results"]]
    assert sorted(names) == ["employment-v1", "mutual-nda-v2", "sales-contract-v3"]
    first = page["results"][0]
    assert set(first) >= {"url", "uuid", "name", "who", "signers"}
    assert first["url"].endswith(f"/api/v1/templates/{first['uuid']}/")
    assert set(first["signers"][0]) >= {"signer_index", "order", "needs_to_sign", "placeholders"}
    one = await client.get(f"/api/v1/templates/{first['uuid']}/", headers=auth)
    assert one.json() == first
    unknown = await client.get(
        "/api/v1/templates/00000000-0000-0000-0000-000000000000/", headers=auth
    )
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "Not found."})

    removed = await client.delete("/_control/templates/mutual-nda-v2")
    assert removed.status_code == 200
    left = (await client.get("/api/v1/templates/", headers=auth)).json()
    assert "mutual-nda-v2" not in [t["name"] for t in left["results"]]
    made = await client.post("/_control/templates", json={"name": "mutual-nda-v2"})
    assert made.status_code == 201
    assert made.json()["uuid"] in removed.json()["removed"]  # the same template again
    again = await client.post("/_control/templates", json={"name": "mutual-nda-v2"})
    assert again.status_code == 409
    assert (await client.delete("/_control/templates/nope")).status_code == 404
