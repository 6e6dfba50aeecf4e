"""docker-compose.yml checked statically: services, commands, ports and settings match the code."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import typer
import yaml
from pydantic import BaseModel

from docflow import search_attributes as sa
from docflow.settings import Settings
from starter.cli import app

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _cli() -> Any:
    return typer.main.get_command(app)  # a click-style group: .commands, .params


def test_stack_has_every_part(compose: dict[str, Any]) -> None:
    assert {"postgresql", "temporal", "temporal-ui", "worker", "api", "simulators"} <= set(
        compose["services"]
    )
    assert compose["services"]["temporal"]["environment"]["DB"] == "postgres12"


@pytest.mark.parametrize("service", ["worker", "api", "simulators"])
def test_commands_are_real_cli_commands_and_options(compose: dict[str, Any], service: str) -> None:
    command = compose["services"][service]["command"]
    sub = _cli().commands.get(command[0])
    assert sub is not None, f"{service}: `docflow {command[0]}` does not exist"
    known = {opt for param in sub.params for opt in getattr(param, "opts", [])}
    for token in command[1:]:
        if token.startswith("--"):
            assert token in known, f"{service}: docflow {command[0]} has no option {token}"


def test_image_entrypoint_is_the_project_script() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["docflow"]' in dockerfile and "docflow" in scripts


def test_only_the_simulators_use_the_dev_image(compose: dict[str, Any]) -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM \S+ AS (\w+)$", dockerfile, flags=re.MULTILINE)
    assert stages[-1] == "product", "a plain `docker build .` must build the product"
    assert "devtools" in stages
    services = compose["services"]
    assert services["simulators"]["build"]["target"] == "devtools"
    for service in ("worker", "api"):
        assert services[service]["build"] == ".", f"{service} must run the product image"


def _dev_case_source(source: str) -> str:
    registry = json.loads((ROOT / "config/dev/case-sources.json").read_text())
    endpoint: str = registry["sources"][source]["endpoint"]
    return endpoint


def _dev_targets() -> dict[str, str]:
    """Target id -> endpoint, as the dev bundle registers them."""
    distribution = json.loads((ROOT / "config/dev/content-distribution.json").read_text())
    return {name: t["endpoint"] for name, t in distribution["targets"].items()}


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_ports_agree_with_the_code(compose: dict[str, Any]) -> None:
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    services = compose["services"]
    api_port = int(_option(services["api"]["command"], "--port"))
    assert api_port == defaults.api.port
    assert f"{api_port}:{api_port}" in services["api"]["ports"]

    sim = services["simulators"]["command"]
    expected = {
        "--core-signature-port": urlparse(defaults.core_signature.base_url).port,
        "--content-server-port": urlparse(defaults.content_server.base_url).port,
        "--crm-port": urlparse(defaults.notifications.url).port,
        "--erp-port": urlparse(_dev_case_source("erp_history")).port,
        "--amplience-port": urlparse(defaults.amplience.auth_url).port,
        "--webhook-target-port": {urlparse(u).port for u in _dev_targets().values()}.pop(),
    }
    for option, port in expected.items():
        assert int(_option(sim, option)) == port
        assert f"{port}:{port}" in services["simulators"]["ports"]

    env = compose["x-docflow-env"]
    for key, value in env.items():
        if key.startswith("DOCFLOW_") and value.startswith("http://simulators:"):
            port = urlparse(value).port
            assert port in expected.values(), f"{key} points at a port no simulator serves"
        if key.startswith("DOCFLOW_") and value.startswith("http://api:"):
            assert urlparse(value).port == api_port
    for url in json.loads(env["DOCFLOW_DISTRIBUTION__ENDPOINTS"]).values():
        assert urlparse(url).port == expected["--webhook-target-port"], url


def test_every_dev_target_is_delivered_to_the_webhook_target_simulator(
    compose: dict[str, Any],
) -> None:
    endpoints = json.loads(compose["x-docflow-env"]["DOCFLOW_DISTRIBUTION__ENDPOINTS"])
    registered = _dev_targets()
    assert set(endpoints) == set(registered)
    for name, url in endpoints.items():
        # Same simulator endpoint (last path segment) as the bundle's, on the simulators host.
        assert urlparse(url).hostname == "simulators"
        assert urlparse(url).path == urlparse(registered[name]).path


def test_environment_variables_name_real_settings(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in compose["x-docflow-env"]:
        if not key.startswith("DOCFLOW_"):
            continue
        path = key.removeprefix("DOCFLOW_").lower().split("__")
        model: type[BaseModel] = Settings
        for part in path:
            assert part in model.model_fields, f"{key}: no setting {part!r}"
            annotation = model.model_fields[part].annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                model = annotation
    for key, value in compose["x-docflow-env"].items():
        monkeypatch.setenv(key, str(value))
    configured = Settings()  # the compose values must validate and land where meant
    assert configured.core_signature.base_url == "http://simulators:8101"
    assert configured.documents.root == Path("/data/documents")
    endpoints = configured.source_systems.endpoints
    assert endpoints and all(url.startswith("http://simulators:") for url in endpoints.values())
    assert configured.case_sources.endpoints["erp_history"] == "http://simulators:8104"
    assert configured.amplience.api_url == "http://simulators:8107/v2/content"
    targets = configured.distribution.endpoints
    assert targets and all(url.startswith("http://simulators:8108/") for url in targets.values())


def test_search_attributes_registered_as_the_workflow_uses_them(compose: dict[str, Any]) -> None:
    script = " ".join(compose["services"]["temporal-setup"]["command"])
    registered = set(re.findall(r"--name (\w+) --type (\w+)", script))
    assert registered == {(key.name, sa.type_name(key)) for key in sa.ALL}
