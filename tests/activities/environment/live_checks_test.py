"""A bundle's live validation against the simulators: every kind of check passing on the dev
bundle, each failing with its file, path and a clear message, and unreachable systems giving
failed checks rather than exceptions."""

from __future__ import annotations

import asyncio
import dataclasses
import socket

import httpx

from activities.environment.live_checks import check_live
from docflow.config.bundle import Bundle
from docflow.config.concern import ConcernFile
from docflow.config.distribution import ContentDistribution
from docflow.config.ecm_events import EcmEvents
from docflow.config.routing import RoutingRules
from docflow.models.environment import LiveCheck, LiveReport
from docflow.settings import DistributionSettings, Settings
from tests.activities.simulated import Sim

ROUTING = "signing-routing.json"
DISTRIBUTION = "content-distribution.json"


def with_concern(bundle: Bundle, concern: ConcernFile) -> Bundle:
    concerns = {
        name: concern if type(current) is type(concern) else current
        for name, current in bundle.concerns.items()
    }
    return dataclasses.replace(bundle, concerns=concerns)


def with_rule(bundle: Bundle, index: int, **changes: object) -> Bundle:
    routing = bundle.get(RoutingRules)
    rules = list(routing.rules)
    rules[index] = rules[index].model_copy(update=changes)
    return with_concern(bundle, routing.model_copy(update={"rules": rules}))


def with_target(bundle: Bundle, name: str, **changes: object) -> Bundle:
    distribution = bundle.get(ContentDistribution)
    targets = dict(distribution.targets)
    targets[name] = targets[name].model_copy(update=changes)
    return with_concern(bundle, distribution.model_copy(update={"targets": targets}))


def problem_at(report: LiveReport, file: str, path: str) -> LiveCheck:
    found = [p for p in report.problems if (p.file, p.path) == (file, path)]
    assert len(found) == 1, [str(p) for p in report.problems]
    return found[0]


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


async def test_the_dev_bundle_passes_every_check(
    dev_bundle: Bundle, live_settings: Settings, http: httpx.AsyncClient, live_target_sim: Sim
) -> None:
    report = await check_live(dev_bundle, live_settings, http, timeout_s=5.0)

    assert report.ok, [str(p) for p in report.problems]
    assert report.systems() == {
        "core_signature",
        "content_server",
        "amplience",
        "target",
        "subscriber",
    }
    subjects = [c.subject for c in report.checks]
    assert len(subjects) == len(set(subjects)), "every id is checked once"
    templates = [c for c in report.checks if c.system == "core_signature"]
    assert [c.subject for c in templates] == [
        "signature template 'sales-contract-v3'",
        "signature template 'mutual-nda-v2'",
        "signature template 'employment-v1'",
    ]
    assert templates[0].path == "rules[0].signature_template"
    for subject in (
        "business workspace type 7",
        "workspace template 20001 of type 7",
        "category 9001",
        "attribute 2 of category 9001",
        "category 9100",
        "records-management classification 5001",
        "workflow state 'Integration failed' (5f1a0c1e2b3c4d5e6f700004)",
        "target 'PARTNER_PORTAL'",
        "subscriber 'erp-finance'",
    ):
        assert subject in subjects
    # The dev bundle names classification 5001 in routing rules and records.json: one check.
    [rm] = [c for c in report.checks if c.subject == "records-management classification 5001"]
    assert "also named at" in rm.message and "records.json" in rm.message
    # A ping is a health check, not a delivery: the target simulator recorded nothing.
    received = await live_target_sim.control("GET", "/deliveries")
    assert received["count"] == 0


async def test_a_missing_template_fails_until_it_is_made(
    dev_bundle: Bundle,
    live_settings: Settings,
    http: httpx.AsyncClient,
    core_signature_sim: Sim,
) -> None:
    await core_signature_sim.control("DELETE", "/templates/mutual-nda-v2")
    report = await check_live(dev_bundle, live_settings, http, timeout_s=5.0)
    missing = problem_at(report, ROUTING, "rules[1].signature_template")
    assert missing.system == "core_signature"
    assert missing.subject == "signature template 'mutual-nda-v2'"
    assert "no template named 'mutual-nda-v2'" in missing.message
    assert len(report.problems) == 1

    await core_signature_sim.control("POST", "/templates", json={"name": "mutual-nda-v2"})
    assert (await check_live(dev_bundle, live_settings, http, timeout_s=5.0)).ok


async def test_unknown_content_server_ids_fail_where_they_are_named(
    dev_bundle: Bundle, live_settings: Settings, http: httpx.AsyncClient
) -> None:
    bundle = with_rule(dev_bundle, 2, workspace_template_id=29999, rm_classification_id=5999)
    bundle = with_rule(
        bundle,
        0,
        category_id=9998,
        category_attributes={"deal_id": 2},
    )
    bundle = with_rule(
        bundle,
        1,
        category_attributes={**dev_bundle.get(RoutingRules).rules[1].category_attributes, "x": 99},
    )
    report = await check_live(bundle, live_settings, http, timeout_s=5.0)

    category = problem_at(report, ROUTING, "rules[0].category_id")
    assert category.message == "Content Server has no category 9998 (no node with that id)"
    not_checked = problem_at(report, ROUTING, "rules[0].category_attributes.deal_id")
    assert not_checked.message.startswith("not checked: Content Server has no category 9998")
    attribute = problem_at(report, ROUTING, "rules[1].category_attributes.x")
    assert attribute.subject == "attribute 99 of category 9001"
    assert "category 9001 ('Signed Contract') has no attribute 99" in attribute.message
    template = problem_at(report, ROUTING, "rules[2].workspace_template_id")
    assert "type 7 ('Customer') has no template 29999" in template.message
    classification = problem_at(report, ROUTING, "rules[2].rm_classification_id")
    assert classification.message == (
        "Content Server has no records-management classification 5999"
    )
    assert len(report.problems) == 5
    assert all(p.system == "content_server" for p in report.problems)


async def test_a_node_that_is_no_category_is_refused(
    dev_bundle: Bundle, live_settings: Settings, http: httpx.AsyncClient
) -> None:
    report = await check_live(
        with_rule(dev_bundle, 0, category_id=2000), live_settings, http, timeout_s=5.0
    )
    wrong = problem_at(report, ROUTING, "rules[0].category_id")
    assert "is a Folder (type 0), not a category (type 131)" in wrong.message


async def test_a_missing_amplience_state_fails(
    dev_bundle: Bundle, live_settings: Settings, http: httpx.AsyncClient
) -> None:
    distribution = dev_bundle.get(ContentDistribution)
    feedback = distribution.feedback.model_copy(
        update={"failed_state_id": "5f1a0c1e2b3c4d5e6f7000ff"}
    )
    bundle = with_concern(dev_bundle, distribution.model_copy(update={"feedback": feedback}))
    report = await check_live(bundle, live_settings, http, timeout_s=5.0)

    missing = problem_at(report, DISTRIBUTION, "feedback.failed_state_id")
    assert missing.system == "amplience"
    assert missing.subject == "workflow state 'Integration failed' (5f1a0c1e2b3c4d5e6f7000ff)"
    assert "has no workflow state 5f1a0c1e2b3c4d5e6f7000ff" in missing.message
    assert "'Distributed' (5f1a0c1e2b3c4d5e6f700003)" in missing.message
    assert len(report.problems) == 1


async def test_targets_answering_an_error_or_nothing_fail(
    dev_bundle: Bundle,
    live_settings: Settings,
    http: httpx.AsyncClient,
    live_target_sim: Sim,
) -> None:
    await live_target_sim.fail_next(500, match="/partner-portal")
    await live_target_sim.control("PATCH", "/endpoints/ops-events", json={"latency_ms": 3000})
    settings = live_settings.with_overrides(
        distribution={"endpoints": {"ERP_CATALOGUE": f"{closed_port_url()}/erp-catalogue"}}
    )
    # A call gets 2 s (the shared test machine's other calls stay well within it).
    report = await check_live(dev_bundle, settings, http, timeout_s=2.0)

    refused = problem_at(report, DISTRIBUTION, "targets.PARTNER_PORTAL.endpoint")
    assert refused.system == "target"
    assert refused.message.startswith("answered HTTP 500 at http://127.0.0.1:")
    silent = problem_at(report, DISTRIBUTION, "targets.ERP_CATALOGUE.endpoint")
    assert silent.message.startswith("unreachable at http://127.0.0.1:")
    slow = problem_at(report, "ecm-events.json", "subscriptions.ops-events.endpoint")
    assert slow.system == "subscriber"
    assert slow.message.startswith("no answer within 2 s from http://127.0.0.1:")
    assert len(report.problems) == 3, [str(p) for p in report.problems]


async def test_a_target_without_an_endpoint_fails(
    dev_bundle: Bundle, live_settings: Settings, http: httpx.AsyncClient
) -> None:
    settings = live_settings.model_copy(update={"distribution": DistributionSettings()})
    bundle = with_target(dev_bundle, "B2B_NETWORK", endpoint="")
    report = await check_live(bundle, settings, http, timeout_s=5.0)

    missing = problem_at(report, DISTRIBUTION, "targets.B2B_NETWORK.endpoint")
    assert missing.message == "no endpoint configured in this environment"


async def test_an_endpoint_outside_the_allowed_hosts_is_not_pinged(
    dev_bundle: Bundle, live_settings: Settings, http: httpx.AsyncClient
) -> None:
    settings = live_settings.with_overrides(
        distribution={"endpoints": {"PARTNER_PORTAL": "http://example.org/partner-portal"}}
    )
    report = await check_live(dev_bundle, settings, http, timeout_s=5.0)
    refused = problem_at(report, DISTRIBUTION, "targets.PARTNER_PORTAL.endpoint")
    assert refused.message.startswith("endpoint not allowed:")


async def test_unreachable_systems_are_failed_checks_not_exceptions(
    dev_bundle: Bundle, settings: Settings, http: httpx.AsyncClient
) -> None:
    nowhere = closed_port_url()
    settings = settings.with_overrides(
        core_signature={"base_url": nowhere, "token_url": f"{nowhere}/token"},
        content_server={"base_url": f"{nowhere}/otcs/cs.exe/api"},
        amplience={
            "auth_url": f"{nowhere}/oauth/token",
            "api_url": f"{nowhere}/v2/content",
            "hub_id": "hub",
            "client_id": "docflow",
            "client_secret": "value:secret",
        },
        distribution={"endpoints": {}},
        ecm_events={"endpoints": {}},
    )
    # Nothing answers on the bundle's own target port either (no stack runs in the tests).
    bundle = dev_bundle
    for name, target in dev_bundle.get(ContentDistribution).targets.items():
        bundle = with_target(
            bundle, name, endpoint=target.endpoint.replace("http://127.0.0.1:8108", nowhere)
        )
    events = bundle.get(EcmEvents)
    subscriptions = {
        n: s.model_copy(update={"endpoint": s.endpoint.replace("http://127.0.0.1:8108", nowhere)})
        for n, s in events.subscriptions.items()
    }
    bundle = with_concern(bundle, events.model_copy(update={"subscriptions": subscriptions}))

    report = await check_live(bundle, settings, http, timeout_s=2.0)

    assert report.checks and not report.ok
    assert len(report.problems) == len(report.checks)
    by_system = {c.system: c.message for c in report.checks}
    assert by_system["core_signature"].startswith("Core Signature is unreachable:")
    assert by_system["content_server"].startswith("Content Server is unreachable:")
    assert by_system["amplience"].startswith("Amplience is unreachable:")
    assert by_system["target"].startswith("unreachable at ")
    assert all("Traceback" not in c.message for c in report.checks)


async def test_a_system_the_bundle_does_not_use_is_not_contacted(
    dev_bundle: Bundle, live_settings: Settings, http: httpx.AsyncClient
) -> None:
    distribution = dev_bundle.get(ContentDistribution)
    unused = distribution.model_copy(
        update={
            "approval": distribution.approval.model_copy(update={"workflow_state_id": None}),
            "feedback": distribution.feedback.model_copy(
                update={"failed_state_id": None, "distributed_state_id": None}
            ),
        }
    )
    # No Amplience settings at all: nothing to check there, so no failure either.
    settings = live_settings.with_overrides(amplience={"hub_id": "", "client_secret": None})
    report = await check_live(with_concern(dev_bundle, unused), settings, http, timeout_s=5.0)
    assert report.ok, [str(p) for p in report.problems]
    assert "amplience" not in report.systems()


async def test_states_named_without_amplience_settings_fail_clearly(
    dev_bundle: Bundle, live_settings: Settings, http: httpx.AsyncClient
) -> None:
    settings = live_settings.with_overrides(amplience={"hub_id": "", "client_secret": None})
    report = await check_live(dev_bundle, settings, http, timeout_s=5.0)
    missing = problem_at(report, DISTRIBUTION, "approval.workflow_state_id")
    assert missing.message.startswith("Amplience is not configured in this environment:")
    assert {p.system for p in report.problems} == {"amplience"}


async def test_refused_credentials_fail_each_check_of_that_system(
    dev_bundle: Bundle, live_settings: Settings, http: httpx.AsyncClient
) -> None:
    settings = live_settings.with_overrides(
        core_signature={"client_secret": "value:wrong"},
        content_server={"password": "value:wrong"},
    )
    report = await check_live(dev_bundle, settings, http, timeout_s=5.0)
    failed = {p.system for p in report.problems}
    assert failed == {"core_signature", "content_server"}
    template = problem_at(report, ROUTING, "rules[0].signature_template")
    assert template.message.startswith("Core Signature answered HTTP 401:")
    category = problem_at(report, ROUTING, "rules[0].category_id")
    assert category.message.startswith("Content Server answered HTTP 401:")
    assert len(report.problems) == sum(
        1 for c in report.checks if c.system in {"core_signature", "content_server"}
    )


class _SlowEverything(httpx.AsyncBaseTransport):
    """Answers every request 200 `{}` after a short wait, counting requests in flight."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.most = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        try:
            await asyncio.sleep(0.02)
            return httpx.Response(200, json={})
        finally:
            self.in_flight -= 1


async def test_calls_are_bounded_and_odd_answers_are_failed_checks(
    dev_bundle: Bundle, live_settings: Settings
) -> None:
    transport = _SlowEverything()
    async with httpx.AsyncClient(transport=transport) as http:
        report = await check_live(dev_bundle, live_settings, http, timeout_s=5.0, concurrency=3)
    assert 1 < transport.most <= 3
    # `{}` is no token, no ticket, no page: failed checks saying so, not exceptions.
    assert report.problems
    template = problem_at(report, ROUTING, "rules[0].signature_template")
    assert template.message.startswith("Core Signature gave an unexpected answer:")
    # Every target answered 2xx: a ping needs nothing more.
    assert all(c.ok for c in report.checks if c.system in {"target", "subscriber"})
