"""Provisioning business workspaces, the one mechanism behind `provision_workspace` and
`ensure_business_workspace`.

Look up by business object (expanded view) → create from the template → on a conflict or a
failure wait a moment and look up again (Extended ECM's own connectors create workspaces
concurrently); a name taken by an unbound workspace of the same type in the location is bound
by reference. Then, idempotently: role members (membership checked first), role permissions,
records-management classification. Members are resolved before anything is created.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.content_server.client import ContentServerClient
from activities.content_server.models import Workspace
from activities.http.errors import (
    AlreadyExistsError,
    AuthenticationError,
    NotFoundError,
    PermanentServiceError,
    RetryableServiceError,
)
from docflow.models.workspaces import RoleMembers

logger = logging.getLogger(__name__)

# How long to wait before looking up again after a create failed: the other creator (ECM's
# connector, a parallel attempt) needs a moment to finish its workspace.
SETTLE_S = 1.5
# Role permissions apply to the workspace and everything in it.
APPLY_TO_ITEM_AND_SUB_ITEMS = 2

How = Literal["created", "adopted", "bound"]


def log() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    return activity.logger if activity.in_activity() else logger


def node_link(base_url: str, ui_url: str | None, node_id: int) -> str:
    """Where a user opens the node: `ui_url` with `{id}`, else the REST base URL with its
    trailing `/api` replaced by `/app/nodes/{id}` (Content Server's Smart View)."""
    if ui_url:
        return ui_url.replace("{id}", str(node_id))
    root = re.sub(r"/api/?$", "", base_url.rstrip("/"))
    return f"{root}/app/nodes/{node_id}"


@dataclass(frozen=True)
class WorkspaceSpec:
    """The workspace a business object gets: its binding key, name, type and template."""

    ext_system_id: str
    bo_type: str
    bo_id: str
    name: str
    workspace_type_id: int
    template_id: int
    parent_id: int | None = None
    categories: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.ext_system_id}/{self.bo_type}/{self.bo_id}"


@dataclass(frozen=True)
class Ensured:
    id: int
    name: str
    how: How


class Provisioner:
    """Provisioning steps on one client; each is safe to repeat."""

    def __init__(self, client: ContentServerClient, *, settle_s: float = SETTLE_S) -> None:
        self._client = client
        self._settle_s = settle_s

    # ----------------------------------------------------------------- members
    async def resolve_members(self, roles: Sequence[RoleMembers]) -> dict[str, int]:
        """Member name -> Content Server id for every member of every role; all unknown ones
        refused together (non-retryable `UnknownMembers`), before anything is written."""
        names = list(dict.fromkeys(m for role in roles for m in role.members))
        ids: dict[str, int] = {}
        unknown: list[str] = []
        for name in names:
            member = await self._client.find_member(name)
            if member is None:
                unknown.append(name)
            else:
                ids[name] = member.id
        if unknown:
            raise ApplicationError(
                f"Content Server knows no user or group {', '.join(map(repr, unknown))}",
                {"unknown": unknown},
                type="UnknownMembers",
                non_retryable=True,
            )
        return ids

    # --------------------------------------------------------------- workspace
    async def ensure_workspace(self, spec: WorkspaceSpec) -> Ensured:
        found = await self._bound(spec)
        if found is not None:
            log().info("workspace %s is bound to %s already", found.id, spec.key)
            return found
        try:
            workspace_id = await self._client.create_workspace(
                name=spec.name,
                template_id=spec.template_id,
                wksp_type_id=spec.workspace_type_id,
                parent_id=spec.parent_id,
                ext_system_id=spec.ext_system_id,
                bo_type=spec.bo_type,
                bo_id=spec.bo_id,
                categories=spec.categories,
            )
        except AlreadyExistsError:
            return await self._after_conflict(spec)
        except RetryableServiceError:
            # The create may have gone through (a timeout), or a connector may have made it.
            await asyncio.sleep(self._settle_s)
            found = await self._bound(spec)
            if found is None:
                raise
            log().info("create for %s failed, but workspace %s is bound to it", spec.key, found.id)
            return found
        # The type's naming rule may have changed the name: read it back.
        created = await self._client.get_workspace(workspace_id)
        log().info(
            "created workspace %s (%r) for %s from template %s",
            workspace_id,
            created.properties.name,
            spec.key,
            spec.template_id,
        )
        return Ensured(workspace_id, created.properties.name or spec.name, "created")

    async def _bound(self, spec: WorkspaceSpec) -> Ensured | None:
        found = await self._client.find_workspace(spec.ext_system_id, spec.bo_type, spec.bo_id)
        if found is None:
            return None
        return Ensured(found.properties.id, found.properties.name, "adopted")

    async def _after_conflict(self, spec: WorkspaceSpec) -> Ensured:
        """The create said "already exists": the object got its workspace meanwhile, or the
        name is taken — by an unbound workspace we may bind, or by something else."""
        await asyncio.sleep(self._settle_s)
        found = await self._bound(spec)
        if found is not None:
            log().info("workspace %s was created concurrently for %s", found.id, spec.key)
            return found
        location = spec.parent_id
        if location is None:
            types = await self._client.workspace_types()
            location = next((t.location_id for t in types if t.id == spec.workspace_type_id), None)
        for candidate in await self._client.find_workspaces_by_name(
            spec.workspace_type_id, spec.name
        ):
            if location is not None and candidate.properties.parent_id != location:
                continue
            if candidate.type_id not in (None, spec.workspace_type_id):
                continue
            workspace = await self._client.get_workspace(candidate.properties.id)
            if workspace.bound:
                raise _conflict(spec, workspace)
            return await self._bind(spec, workspace)
        raise ApplicationError(
            f"workspace name {spec.name!r} is taken in folder {location}, but no workspace "
            f"is bound to {spec.key} and none of type {spec.workspace_type_id} is free to bind",
            type="WorkspaceConflict",
            non_retryable=True,
        )

    async def _bind(self, spec: WorkspaceSpec, workspace: Workspace) -> Ensured:
        workspace_id = workspace.properties.id
        try:
            await self._client.bind_reference(
                workspace_id, spec.ext_system_id, spec.bo_type, spec.bo_id
            )
        except PermanentServiceError as exc:
            if isinstance(exc, NotFoundError | AuthenticationError):
                raise
            # Someone bound it (or another workspace) to the object meanwhile.
            found = await self._bound(spec)
            if found is None:
                raise
            return found
        log().info(
            "bound unbound workspace %s (%r) to %s by reference", workspace_id, spec.name, spec.key
        )
        return Ensured(workspace_id, workspace.properties.name, "bound")

    # ------------------------------------------------------------------- roles
    async def apply_roles(
        self, workspace_id: int, roles: Sequence[RoleMembers], member_ids: Mapping[str, int]
    ) -> None:
        """Add the members each role lacks; set role permissions where the plan has some."""
        wanted = [r for r in roles if r.members or r.permissions]
        if not wanted:
            return
        existing = {r.name.casefold(): r for r in await self._client.list_roles(workspace_id)}
        missing = [r.role for r in wanted if r.role.casefold() not in existing]
        if missing:
            raise ApplicationError(
                f"workspace {workspace_id} has no role {', '.join(map(repr, missing))} "
                f"(roles: {', '.join(sorted(r.name for r in existing.values())) or 'none'})",
                {"missing": missing},
                type="UnknownRoles",
                non_retryable=True,
            )
        for plan_role in wanted:
            role = existing[plan_role.role.casefold()]
            if plan_role.members:
                await self._add_members(
                    workspace_id, role.id, [member_ids[m] for m in plan_role.members]
                )
            if plan_role.permissions:
                await self._client.set_role_permissions(
                    workspace_id,
                    role.id,
                    plan_role.permissions,
                    apply_to=APPLY_TO_ITEM_AND_SUB_ITEMS,
                )

    async def _add_members(self, workspace_id: int, role_id: int, member_ids: list[int]) -> None:
        current = {m.id for m in await self._client.role_members(workspace_id, role_id)}
        for member_id in dict.fromkeys(member_ids):
            if member_id in current:
                continue
            try:
                await self._client.add_role_member(workspace_id, role_id, member_id)
            except PermanentServiceError as exc:
                if isinstance(exc, NotFoundError | AuthenticationError):
                    raise
                # Refused: added concurrently ("already a member")? Look again.
                now = {m.id for m in await self._client.role_members(workspace_id, role_id)}
                if member_id not in now:
                    raise
            current.add(member_id)
            log().info(
                "added member %s to role %s of workspace %s", member_id, role_id, workspace_id
            )

    # ------------------------------------------------------------- retention
    async def classify(
        self, node_id: int, class_id: int | None, *, apply_to_sub_items: bool = False
    ) -> None:
        """Apply the records-management classification; applying it again changes nothing."""
        if class_id is None:
            return
        try:
            await self._client.apply_rm_classification(
                node_id, class_id, apply_to_sub_items=apply_to_sub_items
            )
        except AlreadyExistsError:
            log().info("node %s already has RM classification %s", node_id, class_id)


def _conflict(spec: WorkspaceSpec, workspace: Workspace) -> ApplicationError:
    bound = [f"{r.ext_system_id}/{r.bo_type}/{r.bo_id}" for r in workspace.references]
    bp = workspace.business_properties
    if not bound and bp.business_object_id:
        bound = [f"{bp.external_system_id}/{bp.business_object_type}/{bp.business_object_id}"]
    return ApplicationError(
        f"workspace name {spec.name!r} is taken by workspace {workspace.properties.id}, bound "
        f"to {', '.join(bound)}, not to {spec.key}",
        type="WorkspaceConflict",
        non_retryable=True,
    )


def flat_categories(category_id: int | None, values: Mapping[str, str]) -> dict[str, str]:
    """Attribute id -> value as Content Server's `<cat>_<attr>` keys."""
    if category_id is None:
        return {}
    return {f"{category_id}_{attr}": value for attr, value in values.items()}
