"""Action-link tokens: bound to principal, process, stage and cycle; expiring; tamper-evident."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from docflow.action_links import ActionClaims, ActionLinks, ExpiredLink, TamperedLink
from docflow.models import ApprovalActionFacts, Decision

SHA = "ab" * 32
CLOSES = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
FACTS = ApprovalActionFacts(stage="legal", stage_index=0, version=2, sha256=SHA, closes_at=CLOSES)
NOW = CLOSES - timedelta(days=1)


def _token(url: str) -> str:
    return url.rsplit("/", 1)[1]


def test_each_recipient_gets_three_links_bound_to_the_facts() -> None:
    links = ActionLinks("k1", "https://docflow.example.com/")
    urls = links.links_for("alice@example.com", "Q-1", FACTS, "Q-1:legal:v2:approval_requested")
    assert set(urls) == {"approve", "reject", "request_changes"}
    assert all(u.startswith("https://docflow.example.com/actions/") for u in urls.values())
    claims = {name: links.verify(_token(url), NOW) for name, url in urls.items()}
    assert claims["reject"].action is Decision.REJECT
    approve = claims["approve"]
    assert (approve.principal, approve.business_key, approve.stage) == (
        "alice@example.com",
        "Q-1",
        "legal",
    )
    assert (approve.stage_index, approve.version, approve.sha256) == (0, 2, SHA)
    assert approve.expires_at == CLOSES
    assert len({c.nonce for c in claims.values()}) == 3  # one idempotency id per link
    # A retried activity mints the same links; another occasion (a reminder) new ones.
    assert (
        links.links_for("alice@example.com", "Q-1", FACTS, "Q-1:legal:v2:approval_requested")
        == urls
    )
    reminder = links.links_for("alice@example.com", "Q-1", FACTS, "Q-1:legal:v2:reminder")
    assert reminder["approve"] != urls["approve"]


def test_an_expired_link_is_refused_with_its_claims() -> None:
    links = ActionLinks("k1", "http://x")
    token = _token(links.links_for("bob@example.com", "Q-1", FACTS, "o")["approve"])
    with pytest.raises(ExpiredLink) as expired:
        links.verify(token, CLOSES)
    assert expired.value.claims.principal == "bob@example.com"
    assert links.verify(token, CLOSES - timedelta(seconds=1)).stage == "legal"


def _reencode(token: str, change: int, value: object) -> str:
    payload, signature = token.split(".")
    fields = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    fields[change] = value
    raw = json.dumps(fields, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode() + "." + signature


@pytest.mark.parametrize(
    ("field", "value"),
    [(0, "mallory@example.com"), (1, "Q-2"), (2, "finance"), (4, 3), (6, "r"), (7, 4102444800)],
)
def test_a_changed_claim_breaks_the_signature(field: int, value: object) -> None:
    links = ActionLinks("k1", "http://x")
    token = _token(links.links_for("bob@example.com", "Q-1", FACTS, "o")["approve"])
    with pytest.raises(TamperedLink):
        links.verify(_reencode(token, field, value), NOW)


@pytest.mark.parametrize(
    "token", ["", "abc", "a.b.c", "!!!.???", "x" * 5000 + ".y", "e30.e30", "W10.AAAA"]
)
def test_garbage_is_refused_as_tampered(token: str) -> None:
    with pytest.raises(TamperedLink):
        ActionLinks("k1", "http://x").verify(token, NOW)


def test_another_key_does_not_verify_and_a_signed_but_malformed_payload_is_refused() -> None:
    token = _token(ActionLinks("k1", "http://x").links_for("b", "Q-1", FACTS, "o")["approve"])
    with pytest.raises(TamperedLink):
        ActionLinks("k2", "http://x").verify(token, NOW)
    # Even a correctly signed payload must have the token's shape.
    links = ActionLinks("k1", "http://x")
    payload = base64.urlsafe_b64encode(b'["only","three",1]').rstrip(b"=").decode()
    forged = f"{payload}.{base64.urlsafe_b64encode(links._mac(payload)).rstrip(b'=').decode()}"
    with pytest.raises(TamperedLink):
        links.verify(forged, NOW)


def test_the_request_id_comes_from_the_nonce() -> None:
    claims = ActionClaims(
        principal="a",
        business_key="Q",
        stage="s",
        stage_index=0,
        version=1,
        sha256=SHA,
        action=Decision.APPROVE,
        expires_at=CLOSES,
        nonce="n0nce-123",
    )
    assert claims.request_id == "action-link:n0nce-123"
