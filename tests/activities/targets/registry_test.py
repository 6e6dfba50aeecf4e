"""The target registry: bundle entries, endpoint overrides within the allowed hosts."""

from __future__ import annotations

from pathlib import Path

import pytest

from activities.targets.registry import EndpointNotAllowed, TargetNotRegistered, TargetRegistry
from docflow.settings import Settings
from tests.activities.targets.conftest import bundle_with


async def test_a_target_comes_from_the_bundle() -> None:
    target = await TargetRegistry(Settings()).target("ERP_CATALOGUE")
    assert target.url == "http://127.0.0.1:8108/erp-catalogue"
    assert target.secret.startswith("value:whsec_")
    assert target.retry_schedule_s == (0, 0.2, 0.5, 1.0)
    assert (target.kind, target.jitter, target.rate_limit_per_s) == ("target", 0.1, 10.0)
    assert target.config_version == "2026-12-07.1"


async def test_an_override_moves_the_endpoint_within_the_allowed_hosts() -> None:
    settings = Settings().with_overrides(
        distribution={"endpoints": {"ERP_CATALOGUE": "http://localhost:9999/erp"}}
    )
    registry = TargetRegistry(settings)
    assert (await registry.target("ERP_CATALOGUE")).url == "http://localhost:9999/erp"
    assert (await registry.target("B2B_NETWORK")).url.endswith(":8108/b2b-network")


@pytest.mark.parametrize(
    "url", ["https://partner.example.com/hook", "ftp://127.0.0.1/hook", "not a url"]
)
async def test_an_override_outside_the_allowed_hosts_is_refused(url: str) -> None:
    settings = Settings().with_overrides(distribution={"endpoints": {"PARTNER_PORTAL": url}})
    with pytest.raises(EndpointNotAllowed, match="PARTNER_PORTAL"):
        await TargetRegistry(settings).target("PARTNER_PORTAL")


async def test_an_unknown_target_is_not_registered() -> None:
    with pytest.raises(TargetNotRegistered, match="'NOWHERE' is not registered in local"):
        await TargetRegistry(Settings()).target("NOWHERE")


async def test_a_changed_bundle_is_read_on_the_next_call(tmp_path: Path) -> None:
    settings = bundle_with(Settings(), tmp_path, "B2B_NETWORK", rate_limit_per_s=2.5)
    assert (await TargetRegistry(settings).target("B2B_NETWORK")).rate_limit_per_s == 2.5
