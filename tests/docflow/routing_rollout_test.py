"""Routing rules rolled out gradually: the rollout section of `signing-routing.json` serves
named source systems and a stable share of new processes; its schema and cross-references;
promoting it to the default and rolling it back."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from docflow.config.bundle import BundleError, load_bundle
from docflow.config.routing import RoutingRules, decide_route, rollout_bucket
from docflow.models import (
    DocumentRef,
    Signer,
    SigningProcessInput,
    SigningRequest,
    SourceRecord,
    WorkspaceTarget,
)
from docflow.settings import DEFAULT_CONFIG_DIR

ROLLOUT = "2026-12-01.1"


def _rules_data() -> dict[str, Any]:
    return json.loads((DEFAULT_CONFIG_DIR / "dev" / "signing-routing.json").read_text())


def _rollout(
    share_percent: int = 0, source_systems: list[str] | None = None, **changes: Any
) -> dict[str, Any]:
    """A rollout whose rules are the default ones sending from another address."""
    rules = _rules_data()["rules"]
    for rule in rules:
        rule.update(sender_email="pilot@example.com", signature_template="pilot-v4")
    return {
        "version": ROLLOUT,
        "share_percent": share_percent,
        "source_systems": source_systems or [],
        "rules": rules,
        **changes,
    }


def _with_rollout(**rollout: Any) -> RoutingRules:
    return RoutingRules.model_validate({**_rules_data(), "rollout": _rollout(**rollout)})


def _process(
    key: str = "NDA-1", *, document_type: str = "nda", system: str = "SFDC"
) -> SigningProcessInput:
    sha = "ab" * 32
    return SigningProcessInput(
        request=SigningRequest(
            business_key=key,
            document_type=document_type,
            source=SourceRecord(system=system, record_type="Opportunity", record_id="006X"),
            signers=[Signer(email="ann@example.com")],
            workspace=WorkspaceTarget(
                ext_system_id="SFDC", bo_type="Account", bo_id="001X", name="ACME"
            ),
        ),
        document=DocumentRef(key=f"sha256/ab/{sha}", sha256=sha, size=3, filename="nda.pdf"),
        environment="dev",
        started_by="app:crm",
    )


KEYS = [f"DEAL-{n:05d}" for n in range(1000)]


def _served(rules: RoutingRules, system: str = "SFDC") -> set[str]:
    return {key for key in KEYS if rules.track(key, system) == "rollout"}


def test_a_share_serves_about_that_share_of_business_keys() -> None:
    served = _served(_with_rollout(share_percent=10))
    # Binomial(1000, 0.1): mean 100, sd ~9.5; four standard deviations either side.
    tolerance = 4 * math.sqrt(len(KEYS) * 0.1 * 0.9)
    assert abs(len(served) - 100) <= tolerance, len(served)


def test_the_split_is_stable_and_a_larger_share_only_adds_processes() -> None:
    ten, again = _served(_with_rollout(share_percent=10)), _served(_with_rollout(share_percent=10))
    thirty = _served(_with_rollout(share_percent=30))
    assert ten == again  # a retried validation gives the same answer
    assert ten < thirty
    assert _served(_with_rollout(share_percent=0)) == set()
    assert _served(_with_rollout(share_percent=100)) == set(KEYS)
    assert all(0 <= rollout_bucket(ROLLOUT, key) < 100 for key in KEYS)
    # Another rollout draws another sample: the same customers are not always first.
    assert {k for k in KEYS if rollout_bucket("other", k) < 10} != ten


def test_named_source_systems_take_the_rollout_whatever_the_share() -> None:
    rules = _with_rollout(share_percent=0, source_systems=["SAP"])
    assert _served(rules, "SAP") == set(KEYS)
    assert _served(rules, "SFDC") == set()


def test_the_decision_names_its_track_and_the_rule_set_version() -> None:
    rules = _with_rollout(source_systems=["SAP"])
    pilot = decide_route(rules, _process(system="SAP"))
    assert pilot.accepted and pilot.route is not None
    assert (pilot.route.track, pilot.route.rules_version, pilot.route.rule) == (
        "rollout",
        ROLLOUT,
        "nda",
    )
    assert pilot.route.sender_email == "pilot@example.com"
    assert pilot.route.signature_template == "pilot-v4"

    default = decide_route(rules, _process(system="SFDC"))
    assert default.route is not None
    assert (default.route.track, default.route.rules_version) == ("default", rules.version)
    assert default.route.sender_email == "contracts@example.com"


def test_without_a_rollout_every_process_takes_the_default_rules() -> None:
    rules = RoutingRules.model_validate(_rules_data())
    decision = decide_route(rules, _process())
    assert decision.route is not None
    assert (decision.route.track, decision.route.rules_version) == ("default", "2026-11-01.1")


def test_rollout_rules_replace_the_default_ones_for_the_processes_they_serve() -> None:
    """No fallback: a rule set the rollout lacks is refused, as it would be once promoted."""
    data = _rules_data()
    data["rollout"] = _rollout(source_systems=["SAP"])
    data["rollout"]["rules"] = [r for r in data["rollout"]["rules"] if r["name"] != "nda"]
    rules = RoutingRules.model_validate(data)
    refused = decide_route(rules, _process(system="SAP"))
    assert refused.reasons == [
        "no routing rule for document type 'nda' from 'SAP' in dev (rollout rules 2026-12-01.1)"
    ]
    assert decide_route(rules, _process(system="SFDC")).accepted


def test_promoting_makes_the_rollout_rules_the_default_under_their_label() -> None:
    rules = _with_rollout(share_percent=10, source_systems=["SAP"])
    promoted = RoutingRules.model_validate(rules.promote_rollout().model_dump(mode="json"))
    assert promoted.rollout is None and promoted.version == ROLLOUT
    assert promoted.environment == rules.environment
    before, after = (
        decide_route(rules, _process(system="SAP")),
        decide_route(promoted, _process(system="SAP")),
    )
    assert before.route is not None and after.route is not None
    assert after.route.track == "default"
    assert after.route.model_dump(exclude={"track"}) == before.route.model_dump(exclude={"track"})
    with pytest.raises(ValueError, match="no rollout to promote"):
        promoted.promote_rollout()


def test_rolling_back_keeps_the_default_rules_and_their_label() -> None:
    rules = _with_rollout(share_percent=100)
    rolled_back = RoutingRules.model_validate(rules.without_rollout().model_dump(mode="json"))
    assert rolled_back.rollout is None
    assert rolled_back.version == rules.version and rolled_back.rules == rules.rules
    assert _served(rolled_back) == set()


# ----------------------------------------------------------------- schema and references
def _bundle_problems(tmp_path: Path, rollout: dict[str, Any]) -> list[str]:
    shutil.copytree(DEFAULT_CONFIG_DIR / "dev", tmp_path / "config" / "dev")
    path = tmp_path / "config" / "dev" / "signing-routing.json"
    path.write_text(json.dumps({**_rules_data(), "rollout": rollout}, indent=2))
    with pytest.raises(BundleError) as error:
        load_bundle("dev", tmp_path / "config", check_secrets=False)
    return [str(problem) for problem in error.value.problems]


def test_a_valid_rollout_loads_with_the_bundle(tmp_path: Path) -> None:
    shutil.copytree(DEFAULT_CONFIG_DIR / "dev", tmp_path / "config" / "dev")
    path = tmp_path / "config" / "dev" / "signing-routing.json"
    path.write_text(json.dumps({**_rules_data(), "rollout": _rollout(25, ["SAP"])}, indent=2))
    rules = load_bundle("dev", tmp_path / "config", check_secrets=False).get(RoutingRules)
    assert rules.rollout is not None and rules.rollout.share_percent == 25


@pytest.mark.parametrize(
    ("rollout", "problem"),
    [
        (
            _rollout(share_percent=101),
            "signing-routing.json: rollout.share_percent: Input should be less than or equal "
            "to 100",
        ),
        (
            _rollout(share_percent=-1),
            "signing-routing.json: rollout.share_percent: Input should be greater than or "
            "equal to 0",
        ),
        (
            _rollout(rules=[]),
            "signing-routing.json: rollout.rules: List should have at least 1 item after "
            "validation, not 0",
        ),
        (
            _rollout(version="2026-11-01.1"),
            "signing-routing.json: rollout: version '2026-11-01.1' must differ from the "
            "rules' version (a decision names the rule set it came from)",
        ),
        (
            _rollout(source_systems=["*"]),
            "signing-routing.json: rollout: source_systems cannot be '*'; use share_percent 100",
        ),
        (
            _rollout(sender="typo@example.com"),
            "signing-routing.json: rollout.sender: Extra inputs are not permitted",
        ),
    ],
    ids=["share-above-100", "share-negative", "no-rules", "same-label", "wildcard", "typo"],
)
def test_rollout_schema_problems_are_reported(
    tmp_path: Path, rollout: dict[str, Any], problem: str
) -> None:
    assert _bundle_problems(tmp_path, rollout) == [problem]


def test_rollout_source_systems_must_be_registered(tmp_path: Path) -> None:
    rollout = _rollout(source_systems=["SAP", "LEGACY"])
    rollout["rules"][0]["source_systems"] = ["SFDC", "LEGACY"]
    assert _bundle_problems(tmp_path, rollout) == [
        "signing-routing.json: rollout.source_systems[1]: source system 'LEGACY' is not "
        "registered in source-systems.json",
        "signing-routing.json: rollout.rules[0].source_systems[1]: source system 'LEGACY' is "
        "not registered in source-systems.json",
    ]


def test_a_correction_is_checked_against_the_rule_set_its_process_was_routed_with() -> None:
    """Rollout rules allowing one signer domain; the default ones any domain."""
    data = _rules_data()
    data["rollout"] = _rollout(share_percent=100)
    for rule in data["rollout"]["rules"]:
        rule["allowed_signer_domains"] = ["partner.example"]
    rules = RoutingRules.model_validate(data)
    corrected = _process()  # signer ann@example.com
    pilot = decide_route(rules, corrected, rules_version=ROLLOUT)
    own = decide_route(rules, corrected, rules_version="2026-11-01.1")
    assert pilot.reasons == ["signer ann@example.com is outside the allowed domains"]
    assert own.accepted and own.route is not None and own.route.track == "default"
    # Promoted: the label lives on as the default. Rolled back or relabelled: the track the
    # process falls on now.
    promoted = rules.promote_rollout()
    assert decide_route(promoted, corrected, rules_version=ROLLOUT).reasons == pilot.reasons
    assert decide_route(rules.without_rollout(), corrected, rules_version=ROLLOUT).accepted
    assert decide_route(rules, corrected, rules_version="gone").reasons == pilot.reasons
