"""The validation activity: the bundle's registry and routing rules, plus the document-store
check."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.validation import ValidationActivities
from docflow.docstore import LocalDocumentStore
from docflow.models import (
    CorrectionCheck,
    DocumentRef,
    Signer,
    SigningProcessInput,
    SigningRequest,
    SourceRecord,
    WorkspaceTarget,
)
from docflow.settings import Settings

PDF = b"%PDF-1.4\n% NDA\n%%EOF\n"


def _process(
    document: DocumentRef, document_type: str = "nda", system: str = "SFDC"
) -> SigningProcessInput:
    return SigningProcessInput(
        request=SigningRequest(
            business_key="NDA-1",
            document_type=document_type,
            source=SourceRecord(system=system, record_type="Opportunity", record_id="006X"),
            signers=[Signer(email="ann@example.com")],
            workspace=WorkspaceTarget(
                ext_system_id="SFDC", bo_type="Account", bo_id="001X", name="ACME"
            ),
        ),
        document=document,
        environment="dev",
        started_by="app:crm",
    )


def _edit_rules(path: Path, *, version: str) -> None:
    rules = json.loads(path.read_text())
    rules["version"] = version
    _write(path, json.dumps(rules))


def _allow_domains(path: Path, rule_name: str, domains: list[str]) -> None:
    rules = json.loads(path.read_text())
    for rule in rules["rules"]:
        if rule["name"] == rule_name:
            rule["allowed_signer_domains"] = domains
    _write(path, json.dumps(rules))


def _write(path: Path, text: str) -> None:
    """Write and move the mtime forward, so even a coarse clock sees a change."""
    before = path.stat().st_mtime_ns
    path.write_text(text)
    os.utime(path, ns=(before + 1_000_000, before + 1_000_000))


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    """A copy of the suite's bundle the test may edit."""
    settings = Settings()
    shutil.copytree(settings.bundle_dir, tmp_path / "config" / settings.profile)
    return tmp_path / "config"


@pytest.fixture
def rules_file(config_dir: Path) -> Path:
    return config_dir / Settings().profile / "signing-routing.json"


@pytest.fixture
def validation(config_dir: Path, store: LocalDocumentStore) -> ValidationActivities:
    settings = Settings().with_overrides(config_dir=str(config_dir))
    return ValidationActivities(settings, store)


async def test_accepts_a_routable_request_with_its_stored_document(
    validation: ValidationActivities, activity_env: ActivityEnvironment, store: LocalDocumentStore
) -> None:
    document = await store.put(PDF, filename="nda.pdf", content_type="application/pdf")
    result = await activity_env.run(validation.validate_signing_request, _process(document))
    assert result.accepted, result.reasons
    assert result.route is not None and result.route.rule == "nda"
    assert result.config_version and len(result.config_version) == 16


async def test_refuses_a_source_system_missing_from_the_registry_with_one_reason(
    validation: ValidationActivities, activity_env: ActivityEnvironment, store: LocalDocumentStore
) -> None:
    document = await store.put(PDF, filename="nda.pdf", content_type="application/pdf")
    result = await activity_env.run(
        validation.validate_signing_request, _process(document, system="EVIL")
    )
    assert not result.accepted
    assert result.reasons == [
        "source system 'EVIL' is not registered in local (source systems 2026-11-29.1)"
    ]


async def test_refuses_a_document_missing_from_the_store(
    validation: ValidationActivities, activity_env: ActivityEnvironment
) -> None:
    sha = "ab" * 32
    missing = DocumentRef(key=f"sha256/ab/{sha}", sha256=sha, size=3, filename="nda.pdf")
    result = await activity_env.run(validation.validate_signing_request, _process(missing))
    assert not result.accepted
    assert result.reasons == [f"document 'nda.pdf' ({missing.key}) is not in the document store"]


async def test_refuses_bytes_that_do_not_match_the_hash(
    validation: ValidationActivities, activity_env: ActivityEnvironment, store: LocalDocumentStore
) -> None:
    document = await store.put(PDF, filename="nda.pdf", content_type="application/pdf")
    (store.root / document.key).write_bytes(PDF + b"tampered")
    result = await activity_env.run(
        validation.validate_signing_request, _process(document, "unknown_type")
    )
    assert not result.accepted
    assert len(result.reasons) == 2  # no routing rule, and the hash mismatch
    assert "do not match sha256" in result.reasons[1]


async def test_rules_are_reloaded_when_the_file_changes(
    validation: ValidationActivities,
    activity_env: ActivityEnvironment,
    store: LocalDocumentStore,
    rules_file: Path,
) -> None:
    document = await store.put(PDF, filename="nda.pdf", content_type="application/pdf")
    first = await activity_env.run(validation.validate_signing_request, _process(document))
    assert first.route is not None and first.route.rules_version == "2026-11-01.1"

    _edit_rules(rules_file, version="2026-11-02.1")
    second = await activity_env.run(validation.validate_signing_request, _process(document))
    assert second.route is not None and second.route.rules_version == "2026-11-02.1"
    assert second.config_version != first.config_version


async def test_unreadable_bundle_is_a_retryable_configuration_error(
    validation: ValidationActivities,
    activity_env: ActivityEnvironment,
    store: LocalDocumentStore,
    rules_file: Path,
) -> None:
    _write(rules_file, "{not json")
    document = await store.put(PDF, filename="nda.pdf", content_type="application/pdf")
    with pytest.raises(ApplicationError) as error:
        await activity_env.run(validation.validate_signing_request, _process(document))
    assert error.value.type == "ConfigBundleError"
    assert "signing-routing.json" in error.value.message
    assert not error.value.non_retryable


async def test_a_correction_goes_through_the_routing_rules_again(
    validation: ValidationActivities,
    activity_env: ActivityEnvironment,
    store: LocalDocumentStore,
    rules_file: Path,
) -> None:
    """25 signers for a rule of at most 10, or an address outside the rule's domains: refused,
    every reason named; a correction within the rules passes."""
    _allow_domains(rules_file, "nda", ["example.com"])
    document = await store.put(PDF, filename="nda.pdf", content_type="application/pdf")
    process = _process(document)

    def corrected(*emails: str) -> CorrectionCheck:
        request = process.request.model_copy(update={"signers": [Signer(email=e) for e in emails]})
        return CorrectionCheck(corrected=process.model_copy(update={"request": request}))

    crowd = corrected(*(f"s{n}@example.com" for n in range(25)))
    outside = corrected("jane@elsewhere.example.org")
    fixed = corrected("ann.b@example.com")

    too_many = await activity_env.run(validation.validate_correction, crowd)
    elsewhere = await activity_env.run(validation.validate_correction, outside)
    fine = await activity_env.run(validation.validate_correction, fixed)

    assert not too_many.accepted and "25 signers exceed the limit of 10" in too_many.reasons
    assert not elsewhere.accepted
    assert elsewhere.reasons == ["signer jane@elsewhere.example.org is outside the allowed domains"]
    assert fine.accepted and fine.reasons == []


def _add_rollout(path: Path, *, source_systems: list[str], sender: str) -> None:
    rules = json.loads(path.read_text())
    pilot = json.loads(json.dumps(rules["rules"]))
    for rule in pilot:
        rule["sender_email"] = sender
    rules["rollout"] = {"version": "pilot.1", "source_systems": source_systems, "rules": pilot}
    _write(path, json.dumps(rules))


def _remove_rollout(path: Path) -> None:
    rules = json.loads(path.read_text())
    del rules["rollout"]
    _write(path, json.dumps(rules))


async def test_a_rollout_routes_its_source_systems_and_the_decision_names_the_versions(
    validation: ValidationActivities,
    activity_env: ActivityEnvironment,
    store: LocalDocumentStore,
    rules_file: Path,
) -> None:
    document = await store.put(PDF, filename="nda.pdf", content_type="application/pdf")
    _add_rollout(rules_file, source_systems=["SFDC"], sender="pilot@example.com")
    pilot = await activity_env.run(validation.validate_signing_request, _process(document))
    again = await activity_env.run(validation.validate_signing_request, _process(document))
    assert pilot.route is not None and again.route == pilot.route  # a retry: the same answer
    assert (pilot.route.track, pilot.route.rules_version) == ("rollout", "pilot.1")
    assert pilot.route.sender_email == "pilot@example.com"
    assert pilot.route.config_version == pilot.config_version
    other = await activity_env.run(
        validation.validate_signing_request, _process(document, system="SAP")
    )
    assert other.route is not None and other.route.track == "default"

    _remove_rollout(rules_file)  # rolled back
    back = await activity_env.run(validation.validate_signing_request, _process(document))
    assert back.route is not None
    assert (back.route.track, back.route.rules_version) == ("default", "2026-11-01.1")
    assert back.route.sender_email == "contracts@example.com"
    assert back.config_version != pilot.config_version


async def test_a_correction_keeps_the_rule_set_its_process_was_routed_with(
    validation: ValidationActivities,
    activity_env: ActivityEnvironment,
    store: LocalDocumentStore,
    rules_file: Path,
) -> None:
    document = await store.put(PDF, filename="nda.pdf", content_type="application/pdf")
    _add_rollout(rules_file, source_systems=["SAP"], sender="pilot@example.com")
    _allow_domains(rules_file, "nda", ["partner.example"])  # the default rule, not the pilot's
    routed = await activity_env.run(
        validation.validate_signing_request, _process(document, system="SAP")
    )
    assert routed.route is not None and routed.route.track == "rollout"

    check = CorrectionCheck(corrected=_process(document, system="SAP"), route=routed.route)
    assert (await activity_env.run(validation.validate_correction, check)).accepted
    _remove_rollout(rules_file)  # rolled back: the default rules apply to corrections too
    refused = await activity_env.run(validation.validate_correction, check)
    assert refused.reasons == ["signer ann@example.com is outside the allowed domains"]
