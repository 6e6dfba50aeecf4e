"""A configuration promotion end to end on the embedded stack (dev server, simulators, worker,
API): a routing rollout naming a Core Signature template the environment does not have is
refused by the live checks; once the template exists the same files pass, the proposer may
not approve, the release approver does, and the running worker routes new SFDC processes by
the rollout (without a restart) while a process routed before keeps its route; a rollback
restores the previous version."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import Result
from typer.testing import CliRunner

from devstack.embedded import EmbeddedStack
from devstack.samples import contract_pdf, legal, sample_request
from starter.api_client import DocflowApiClient, DocflowApiError
from starter.cli import app as cli
from starter.cli_promotion import concern_files
from tests.e2e.signing_e2e_test import wait_status
from tests.stacks import fast_polling_stack

OPS, RITA = "dev-ops-key", "dev-rita-key"
TEMPLATE = "nda-2027"
PILOT = "2026-12.pilot"
POLL_S = 2.5  # a worker looks the applied version up every 2 s


@pytest.fixture(scope="module")
async def stack(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmbeddedStack]:
    # Its own stack: the promotion changes the configuration every process of it reads.
    async with fast_polling_stack(tmp_path_factory.mktemp("docflow-promotion")) as running:
        yield running


def with_pilot(files: dict[str, str]) -> dict[str, str]:
    """The dev bundle with a rollout for SFDC whose first rule uses TEMPLATE."""
    routing = json.loads(files["signing-routing.json"])
    pilot_rules = json.loads(json.dumps(routing["rules"]))
    pilot_rules[0]["signature_template"] = TEMPLATE
    routing["rollout"] = {"version": PILOT, "source_systems": ["SFDC"], "rules": pilot_rules}
    return {**files, "signing-routing.json": json.dumps(routing, indent=2)}


async def promotion(api: DocflowApiClient, key: str) -> dict[str, Any]:
    for _ in range(600):
        status: dict[str, Any] = await api.call("GET", f"/v1/config/promotions/{key}")
        if status["state"] not in ("validating", "checking_live", "applying"):
            return status
        await asyncio.sleep(0.1)
    raise AssertionError(f"promotion {key} stuck in {status['state']}")


async def propose(api: DocflowApiClient, files: dict[str, str], reason: str) -> str:
    answer = await api.call(
        "POST", "/v1/config/promotions", json={"source": "dev", "reason": reason, "files": files}
    )
    assert answer["created"] is True
    return str(answer["status_url"].rsplit("/", 1)[-1])


async def routed(api: DocflowApiClient, key: str) -> dict[str, Any]:
    status = await wait_status(api, key, lambda s: any(a.kind == "routed" for a in s.audit))
    return next(a for a in status.audit if a.kind == "routed").data


async def test_refused_fixed_approved_applied_picked_up_and_rolled_back(
    stack: EmbeddedStack, http: httpx.AsyncClient
) -> None:
    ops = DocflowApiClient(stack.api_url, OPS, http=http)
    rita = ops.as_principal(RITA)
    crm = ops.as_principal("dev-crm-key")
    files = with_pilot(concern_files(str(stack.settings.config_dir / stack.settings.profile)))

    before = await ops.call("GET", "/v1/config")
    assert before["applied"] is None and before["versions"] == []
    earlier = f"PROMO-{uuid.uuid4().hex[:8]}"
    await crm.start(sample_request(earlier, stages=[legal()]), contract_pdf(earlier))
    assert (await routed(crm, earlier))["track"] == "default"

    # 1. Refused: Core Signature has no such template in this environment.
    refused = await promotion(ops, await propose(ops, files, "pilot the 2027 NDA"))
    assert refused["state"] == "refused"
    failed = [c for c in refused["live"]["checks"] if not c["ok"]]
    assert [(c["system"], c["path"]) for c in failed] == [
        ("core_signature", "rollout.rules[0].signature_template")
    ]
    assert TEMPLATE in refused["outcome_reason"]

    # 2. Fixed in the target system (the template published), the same files pass.
    response = await http.post(
        f"{stack.core_signature_url}/_control/templates", json={"name": TEMPLATE}
    )
    response.raise_for_status()
    key = await propose(ops, files, "pilot the 2027 NDA, template published")
    waiting = await promotion(ops, key)
    assert waiting["state"] == "awaiting_approval", waiting["outcome_reason"]
    assert "rollout" in waiting["check"]["diff_text"]
    with pytest.raises(DocflowApiError) as own:  # ops may propose but not release
        await ops.call(
            "POST", f"/v1/config/promotions/{key}/decision", json={"decision": "approve"}
        )
    assert own.value.status == 403
    await rita.call("POST", f"/v1/config/promotions/{key}/decision", json={"decision": "approve"})
    applied = await promotion(ops, key)
    assert (applied["state"], applied["applied_version"]) == ("applied", 1)

    # 3. The running worker picks it up (it looks the version up every 2 s, no restart):
    # new SFDC processes go by the rollout.
    await asyncio.sleep(POLL_S)
    after = f"PROMO-{uuid.uuid4().hex[:8]}"
    await crm.start(sample_request(after, stages=[legal()]), contract_pdf(after))
    route = await routed(crm, after)
    assert (route["track"], route["rules_version"]) == ("rollout", PILOT)
    # The earlier process keeps the route it was given.
    assert (await routed(crm, earlier))["track"] == "default"
    versions = await ops.call("GET", "/v1/config")
    assert versions["applied"] == 1
    changed = await ops.call("GET", "/v1/config/versions/1/diff")
    assert changed["left"] == "the bundle's files"
    assert f'+ signing-routing.json  rollout.version: "{PILOT}"' in changed["text"]
    assert versions["versions"][0]["approver"] == "rita@example.com"

    # 4. Rolled back: one call, a new version with the files before it.
    answer = await ops.call("POST", "/v1/config/rollbacks", json={"reason": "pilot paused"})
    rolled = await promotion(ops, answer["status_url"].rsplit("/", 1)[-1])
    assert (rolled["state"], rolled["applied_version"]) == ("applied", 2), rolled
    await asyncio.sleep(POLL_S)
    third = f"PROMO-{uuid.uuid4().hex[:8]}"
    await crm.start(sample_request(third, stages=[legal()]), contract_pdf(third))
    assert (await routed(crm, third))["track"] == "default"
    assert (await routed(crm, after))["track"] == "rollout"  # already routed: untouched
    for key_ in (earlier, after, third):
        await crm.cancel(key_, "end of the test")


async def test_bad_promotion_requests_get_clear_errors(
    stack: EmbeddedStack, http: httpx.AsyncClient
) -> None:
    url = f"{stack.api_url}/v1/config/promotions"
    files = concern_files(str(stack.settings.config_dir / stack.settings.profile))
    body = {"source": "dev", "files": files}
    ops = {"X-API-Key": OPS}

    async def post(payload: Any, headers: dict[str, str], path: str = url) -> httpx.Response:
        return await http.post(path, json=payload, headers=headers)

    assert (await post(body, {})).status_code == 401
    assert (await post(body, {"X-API-Key": "dev-crm-key"})).status_code == 403
    unknown = await post({**body, "files": {**files, "settings.toml": "x = 1"}}, ops)
    assert unknown.status_code == 422 and "settings.toml" in unknown.json()["error"]["message"]
    missing = await post({**body, "files": {"records.json": files["records.json"]}}, ops)
    assert missing.status_code == 422 and "missing" in missing.json()["error"]["message"]
    bad_id = await post({**body, "promotion_id": "../etc"}, ops)
    assert bad_id.status_code == 422
    huge = await post({**body, "reason": "x" * (2 * 1024 * 1024)}, ops)
    assert huge.status_code == 413
    unknown_promotion = await http.get(f"{url}/no-such-promotion", headers=ops)
    assert unknown_promotion.status_code == 404
    same = {**body, "promotion_id": "same-id"}
    assert (await post(same, ops)).status_code == 201
    assert (await post(same, ops)).status_code == 200  # the same promotion
    other = {**same, "files": with_pilot(files)}
    assert (await post(other, ops)).status_code == 409  # the same id, other files


async def test_the_cli_lists_diffs_exports_and_promotes_a_version(
    stack: EmbeddedStack, tmp_path: Path
) -> None:
    """`docflow config versions | promote | promotion` against the stack's API (after the
    first test: version 1 the pilot, version 2 its rollback)."""
    env = {"DOCFLOW_API_URL": stack.api_url, "DOCFLOW_API_KEY": OPS}

    async def docflow(*args: str) -> Result:
        return await asyncio.to_thread(CliRunner().invoke, cli, ["config", *args], env=env)

    listed = await docflow("versions")
    assert listed.exit_code == 0, listed.output
    assert (
        "v2" in listed.output
        and "rollback" in listed.output
        and "rita@example.com" in listed.output
    )
    changed = await docflow("versions", "--diff", "1")
    assert changed.exit_code == 0 and "rollout.version" in changed.output
    archive = tmp_path / "v1.json"
    exported = await docflow("versions", "--export", "1", "--out", str(archive))
    assert exported.exit_code == 0, exported.output
    assert "signing-routing.json" in json.loads(archive.read_text())["files"]

    # Version 1 again, proposed from its archive (the template exists since the first test).
    proposed = await docflow(
        "promote", "--from", str(archive), "--id", "cli-v1", "--reason", "again"
    )
    assert proposed.exit_code == 0, proposed.output
    assert "awaiting_approval" in proposed.output and "difference(s)" in proposed.output
    shown = await docflow("promotion", "cli-v1")
    assert "release decision" in shown.output
