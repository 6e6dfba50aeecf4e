"""The source-system registry's process API: an endpoint within the system's allowed hosts,
with its key; every bundle gives SAP one (dev and local at the ERP simulator)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from docflow.config.bundle import load_bundle
from docflow.config.source_systems import SourceSystem, SourceSystems
from docflow.settings import DEFAULT_CONFIG_DIR

SAP: dict[str, Any] = {
    "status_endpoint": "https://erp.example.com/status",
    "webhook_secret": "env:SAP_WEBHOOK_SECRET",
    "allowed_hosts": ["erp.example.com"],
}


@pytest.mark.parametrize("profile", ["dev", "test", "prod"])
def test_every_bundle_gives_sap_a_process_api(profile: str) -> None:
    sap = load_bundle(profile, DEFAULT_CONFIG_DIR, check_secrets=False).get(SourceSystems)
    entry = sap.systems["SAP"]
    assert entry.processes_endpoint and entry.processes_api_key
    if profile == "dev":
        assert entry.processes_endpoint == "http://127.0.0.1:8104/api/processes"
        assert entry.processes_api_key == "value:dev-erp-key"
    else:
        assert entry.processes_endpoint.startswith("https://")
        assert entry.processes_api_key.startswith("env:")


def test_the_local_bundle_points_at_the_erp_simulator() -> None:
    entry = load_bundle().get(SourceSystems).systems["SAP"]
    assert entry.processes_endpoint == "http://127.0.0.1:8104/api/processes"


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (
            {
                "processes_endpoint": "https://elsewhere.example.com/api/processes",
                "processes_api_key": "env:K",
            },
            "processes_endpoint: endpoint host 'elsewhere.example.com' is not in allowed_hosts",
        ),
        (
            {"processes_endpoint": "https://erp.example.com/api/processes"},
            "processes_endpoint and processes_api_key go together",
        ),
        ({"processes_api_key": "value:k"}, "go together"),
    ],
)
def test_a_process_api_is_within_the_allowed_hosts_and_has_its_key(
    extra: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        SourceSystem.model_validate(SAP | extra)
    assert SourceSystem.model_validate(SAP).processes_endpoint is None
