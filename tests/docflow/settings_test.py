"""Settings profiles, secret references and routing rules."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from docflow.config.bundle import load_bundle
from docflow.config.routing import RoutingRules, decide_route
from docflow.docstore import DocumentIntegrityError, LocalDocumentStore
from docflow.models import ApprovalStageSpec, DocumentRef, SigningRequest
from docflow.models.signing import CALLER_INPUT
from docflow.secrets import SecretResolutionError, resolve_secret
from docflow.settings import DEFAULT_CONFIG_DIR, Settings
from tests.workflows.conftest import signing_input


@pytest.mark.parametrize("profile", ["test", "prod"])
def test_test_and_prod_refuse_literal_secrets(
    profile: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCFLOW_PROFILE", profile)
    monkeypatch.setenv("DOCFLOW_CONFIG_DIR", str(DEFAULT_CONFIG_DIR))
    assert Settings().documents.kind == "s3"  # config/<profile>/settings.toml is loaded
    monkeypatch.setenv("DOCFLOW_NOTIFICATIONS__WEBHOOK_SECRET", "value:oops")
    with pytest.raises(ValidationError, match="only accepts env: or file:") as error:
        Settings()
    assert "notifications.webhook_secret" in str(error.value)
    assert "oops" not in str(error.value)


def test_only_the_dev_bundle_has_the_demo_api_keys() -> None:
    dev = Settings(profile="dev", config_dir=DEFAULT_CONFIG_DIR)
    assert "value:dev-crm-key" in [k.key for k in dev.api.api_keys]
    for profile in ("test", "prod"):
        strict = Settings(profile=profile, config_dir=DEFAULT_CONFIG_DIR)
        assert strict.api.api_keys and all(k.key.startswith("env:") for k in strict.api.api_keys)
    # Without a bundle there are no keys at all: the demo keys are data, not a code default.
    assert Settings(profile="dev", config_dir=Path("/nonexistent")).api.api_keys == []


def test_the_profile_is_decided_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # An explicit profile wins over DOCFLOW_PROFILE, and the TOML loaded is that profile's.
    monkeypatch.setenv("DOCFLOW_PROFILE", "prod")
    settings = Settings(profile="dev", config_dir=DEFAULT_CONFIG_DIR)
    assert settings.profile == "dev" and settings.documents.kind == "local"
    assert settings.bundle_dir == DEFAULT_CONFIG_DIR / "dev"
    monkeypatch.setenv("DOCFLOW_PROFILE", "staging")
    with pytest.raises(ValueError, match="unknown profile 'staging'"):
        Settings()


def test_the_config_dir_comes_from_docflow_config_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "settings.toml").write_text('data_dir = "/srv/docflow"\n')
    monkeypatch.setenv("DOCFLOW_CONFIG_DIR", str(tmp_path))
    settings = Settings()
    assert settings.profile == "local" and settings.config_dir == tmp_path
    assert settings.data_dir == Path("/srv/docflow")


def test_secret_references(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCFLOW_TEST_SECRET", "from-env")
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-file\n")
    assert resolve_secret("env:DOCFLOW_TEST_SECRET") == "from-env"
    assert resolve_secret(f"file:{secret_file}") == "from-file"
    assert resolve_secret("value:dev") == "dev"
    with pytest.raises(SecretResolutionError, match="refused"):
        resolve_secret("value:dev", allow_literal=False)
    with pytest.raises(SecretResolutionError, match="not set"):
        resolve_secret("env:DOCFLOW_NOT_SET_ANYWHERE")


def test_environment_variables_override_nested_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCFLOW_CORE_SIGNATURE__BASE_URL", "https://sign.core.opentext.eu")
    assert Settings().core_signature.base_url == "https://sign.core.opentext.eu"
    overridden = Settings().with_overrides(api={"port": 9100})
    assert overridden.api.port == 9100 and overridden.api.host == "127.0.0.1"


@pytest.mark.parametrize("profile", ["dev", "test", "prod"])
def test_routing_rules_of_every_profile_validate(profile: str) -> None:
    rules = load_bundle(profile, DEFAULT_CONFIG_DIR, check_secrets=False).get(RoutingRules)
    assert rules.environment == profile and rules.route("sales_contract", "SFDC") is not None


def test_routing_refuses_with_every_reason() -> None:
    rules = RoutingRules.load(DEFAULT_CONFIG_DIR / "dev" / "signing-routing.json")
    accepted = decide_route(rules, signing_input())
    assert accepted.accepted and accepted.route is not None
    assert accepted.route.rule == "sales-contracts" and accepted.route.category_id == 9001

    process = signing_input(stages=[])
    process.document = process.document.model_copy(update={"content_type": "image/png"})
    refused = decide_route(rules, process)
    assert not refused.accepted
    assert len(refused.reasons) == 2
    assert "needs internal approval" in refused.reasons[0]
    assert "image/png" in refused.reasons[1]

    unknown = signing_input(stages=[ApprovalStageSpec(name="x", approvers=["a"])])
    unknown.request.document_type = "poem"
    assert decide_route(rules, unknown).reasons == [
        "no routing rule for document type 'poem' from 'SFDC' in dev (rules 2026-11-01.1)"
    ]


async def test_local_document_store_is_content_addressed_and_verified(tmp_path: Path) -> None:
    store = LocalDocumentStore(tmp_path)
    first = await store.put(b"%PDF-1.4 hello", filename="a.pdf", content_type="application/pdf")
    again = await store.put(b"%PDF-1.4 hello", filename="b.pdf", content_type="application/pdf")
    stored = [p for p in tmp_path.rglob("*") if p.is_file()]  # noqa: ASYNC240 (test setup)
    assert first.key == again.key and stored == [tmp_path / first.key]
    assert await store.get(first) == b"%PDF-1.4 hello"
    (tmp_path / first.key).write_bytes(b"tampered")
    with pytest.raises(DocumentIntegrityError):
        await store.get(first)
    with pytest.raises(ValueError, match="escapes"):
        await store.get(DocumentRef(key="../../etc/passwd", sha256="0" * 64, size=1, filename="x"))


def test_signing_requests_refuse_callback_url_from_callers_but_replay_old_histories() -> None:
    request = signing_input().request.model_dump(mode="json")
    legacy = {**request, "callback_url": "http://crm.example.com/hook"}
    # A run started before the registry: its input still decodes (the URL is unused).
    assert "callback_url" not in SigningRequest.model_validate(legacy).model_dump()
    with pytest.raises(ValidationError, match="callback_url is not accepted"):
        SigningRequest.model_validate(legacy, context={CALLER_INPUT: True})
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        SigningRequest.model_validate({**request, "priority": "high"})
