"""Connecting to Temporal: the SDK's environment configuration plus the pydantic converter."""

from __future__ import annotations

from typing import Any

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.envconfig import ClientConfig

SIGNING_WORKFLOW_ID_PREFIX = "signing-"


def signing_workflow_id(business_key: str) -> str:
    return f"{SIGNING_WORKFLOW_ID_PREFIX}{business_key}"


# Case assembly: one workflow per case; every case belongs to the CASES source system (who
# may see and act on it: callers acting for CASES, or support).
CASE_SYSTEM = "CASES"


def case_workflow_id(case_type: str, case_id: str) -> str:
    return f"case:{case_type}:{case_id}"


def case_business_key(case_type: str, case_id: str) -> str:
    return f"{case_type}/{case_id}"


async def connect(profile: str | None = None, **overrides: Any) -> Client:
    """Connect using TEMPORAL_* env vars / temporal.toml (address, namespace, TLS, API key)."""
    config: dict[str, Any] = dict(ClientConfig.load_client_connect_config(profile=profile))
    config.setdefault("target_host", "localhost:7233")
    config.update(overrides)
    config["data_converter"] = pydantic_data_converter
    return await Client.connect(**config)


BUSINESS_OBJECT_WORKFLOW_ID_PREFIX = "bo:"


def business_object_workflow_id(ext_system_id: str, bo_type: str, bo_id: str) -> str:
    """The one long-lived workflow of a business object (its workspace's binding key)."""
    return f"{BUSINESS_OBJECT_WORKFLOW_ID_PREFIX}{ext_system_id}:{bo_type}:{bo_id}"


MASTER_DATA_WORKFLOW_ID_PREFIX = "md:"


def master_data_workflow_id(source: str, record_type: str, record_id: str) -> str:
    """The one workflow of a master data record (it keeps the record's Amplience item)."""
    return f"{MASTER_DATA_WORKFLOW_ID_PREFIX}{source}:{record_type}:{record_id}"
