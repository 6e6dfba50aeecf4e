"""Live validation of a configuration bundle against one environment's real systems.

A promotion checks that what a candidate bundle names exists where it is going: the Core
Signature templates of the signing routing rules; the Content Server workspace types and
templates, folders, categories and their attributes, and records-management classifications
of the routing rules, workspace mappings and retention classes; the Amplience workflow states
of content distribution; and that every distribution target and ECM event subscriber answers a
signed `docflow.ping`.

Every id is checked once however often the bundle names it (the report names the first place
and counts the others), concurrently under a bound, each call with a timeout. A system the
bundle names nothing of is not contacted. Nothing raises out of `check_live`: an unreachable
system, a refused credential or an unexpected answer is a failed check saying so.

Endpoints (evidence: /work/shared/docs/vendor-apis-evidence.md):
- Core Signature `GET /api/v1/templates/?page=&limit=` (DRF page of `{url, uuid, name, who,
  signers}`): confirmed for SignRequest, whose API Core Signature renames; the resource itself
  is not evidenced for Core Signature (GUESS that it is unchanged). The routing rules name a
  template by its name (e.g. 'sales-contract-v3'); a uuid matches too.
- Content Server `GET /v2/businessworkspacetypes?expand_templates=true`: confirmed (pyxecm).
- Content Server `GET /v2/nodes/{id}`: confirmed. A category is a node of type 131 (pyxecm's
  constants: confirmed); an RM classification is a node too (type 551 "RM Classification":
  GUESS, so only its existence is required, not its type).
- Content Server `GET /v1/forms/nodes/categories/create?id={node}&category_id={cat}`: the form
  for applying a category to a node; the path is confirmed (OpenText Smart UI's
  `categories_add` action link, a public TypeScript client), its Alpaca shape with
  `forms[].schema.properties` keyed `<cat>_<attr>` partly (the same client reads it so); how
  the server refuses an unknown category (4xx) is a GUESS. `node` is any node the service
  account sees: the Enterprise Workspace (2000) by default.
- Amplience `GET /hubs/{hubId}/workflow-states`: confirmed (AMP-SDK).
- Targets and subscribers: our design (Standard Webhooks); a `docflow.ping` is a health
  check, not a business message, and any 2xx is healthy.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Hashable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import httpx
from pydantic import ValidationError

from activities.amplience.client import AmplienceClient
from activities.content_server.auth import OtcsTicketAuth
from activities.content_server.client import ContentServerClient
from activities.content_server.models import Node, WorkspaceType
from activities.core_signature.client import CoreSignatureClient
from activities.core_signature.models import CsTemplate
from activities.http.errors import ExternalServiceError, NotFoundError
from activities.http.oauth import ClientCredentialsTokenProvider
from activities.http.webhooks import WebhookSender
from docflow.config.bundle import Bundle
from docflow.config.concern import ConcernFile
from docflow.config.distribution import ContentDistribution
from docflow.config.ecm_events import EcmEvents
from docflow.config.records import Records
from docflow.config.routing import RoutingRule, RoutingRules
from docflow.config.source_systems import endpoint_problem
from docflow.config.workspaces import WorkspaceMappings
from docflow.models.environment import MAX_CHECKS, MAX_MESSAGE, LiveCheck, LiveReport, LiveSystem
from docflow.secrets import SecretResolutionError
from docflow.settings import Settings

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_CONCURRENCY = 8
# Content Server's Enterprise Workspace: a node every service account sees.
ENTERPRISE_WORKSPACE = 2000
CATEGORY_NODE_TYPE = 131
PING_TYPE = "docflow.ping"
MAX_ALSO_NAMED = 5

ROUTING_FILE = "signing-routing.json"
WORKSPACES_FILE = "workspaces.json"
RECORDS_FILE = "records.json"
DISTRIBUTION_FILE = "content-distribution.json"
ECM_EVENTS_FILE = "ecm-events.json"

SYSTEM_NAMES: dict[LiveSystem, str] = {
    "core_signature": "Core Signature",
    "content_server": "Content Server",
    "amplience": "Amplience",
    "target": "the target",
    "subscriber": "the subscriber",
}

C = TypeVar("C", bound=ConcernFile)
T = TypeVar("T")


class _Failed(Exception):
    """A check's negative answer, in words."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class _Where:
    file: str
    path: str


@dataclass
class _Planned:
    system: LiveSystem
    subject: str
    run: Callable[[], Awaitable[str]]
    where: list[_Where] = field(default_factory=list)


async def check_live(
    bundle: Bundle,
    settings: Settings,
    http: httpx.AsyncClient,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    concurrency: int = DEFAULT_CONCURRENCY,
    category_form_node_id: int = ENTERPRISE_WORKSPACE,
) -> LiveReport:
    """Check every id `bundle` names against the systems `settings` points at.

    `timeout_s` bounds each call (a token fetch, a list, a ping); at most `concurrency` calls
    run at once. `category_form_node_id` is the node whose category form lists a category's
    attributes. Never raises for what a system answers or fails to answer.
    """
    checks = _LiveChecks(bundle, settings, http, timeout_s, concurrency, category_form_node_id)
    try:
        return await checks.run()
    finally:
        checks.close()


class _LiveChecks:
    def __init__(
        self,
        bundle: Bundle,
        settings: Settings,
        http: httpx.AsyncClient,
        timeout_s: float,
        concurrency: int,
        category_form_node_id: int,
    ) -> None:
        self._bundle = bundle
        self._settings = settings
        self._http = http
        self._timeout_s = timeout_s
        self._limit = asyncio.Semaphore(max(1, concurrency))
        self._anchor = category_form_node_id
        self._calls: dict[Hashable, asyncio.Future[Any]] = {}
        self._clients: dict[str, Any] = {}
        self._planned: dict[Hashable, _Planned] = {}

    # ------------------------------------------------------------- running
    async def run(self) -> LiveReport:
        self._plan_core_signature()
        self._plan_content_server()
        self._plan_amplience()
        self._plan_endpoints()
        planned = list(self._planned.values())[:MAX_CHECKS]
        results = await asyncio.gather(*(self._outcome(p) for p in planned))
        return LiveReport(checks=list(results))

    def close(self) -> None:
        """Cancel what is still running (a check gave up waiting) and collect what failed,
        so no task outlives the report or logs an unretrieved exception."""
        for future in self._calls.values():
            if not future.done():
                future.cancel()
            elif not future.cancelled():
                future.exception()

    async def _outcome(self, planned: _Planned) -> LiveCheck:
        ok = False
        try:
            message, ok = await planned.run(), True
        except _Failed as exc:
            message = exc.message
        except Exception as exc:  # every failure is a failed check, never an exception
            message = self._describe(planned.system, exc)
        first, others = planned.where[0], planned.where[1:]
        if others:
            shown = ", ".join(_where(w, first.file) for w in others[:MAX_ALSO_NAMED])
            more = (
                f" and {len(others) - MAX_ALSO_NAMED} more" if len(others) > MAX_ALSO_NAMED else ""
            )
            message = f"{message} (also named at {shown}{more})"
        if not ok:
            logger.info("live check failed: %s %s: %s", planned.system, planned.subject, message)
        return LiveCheck(
            system=planned.system,
            file=first.file,
            path=first.path[:500],
            subject=planned.subject[:300],
            ok=ok,
            message=_clip(message),
        )

    def _describe(self, system: LiveSystem, exc: BaseException) -> str:
        name = SYSTEM_NAMES[system]
        if isinstance(exc, TimeoutError):
            return f"{name} did not answer within {self._timeout_s:g} s"
        if isinstance(exc, ExternalServiceError):
            if exc.status is None:
                return f"{name} is unreachable: {exc.message}"
            return f"{name} answered HTTP {exc.status}: {exc.message}"
        if isinstance(exc, SecretResolutionError):
            return f"a secret for {name} cannot be read: {exc}"
        if isinstance(exc, ValidationError | json.JSONDecodeError):
            return f"{name} gave an unexpected answer: {_clip(str(exc), 300)}"
        return f"{name} could not be checked: {type(exc).__name__}: {_clip(str(exc), 300)}"

    async def _call(self, key: Hashable, call: Callable[[], Awaitable[T]]) -> T:
        """`call()` once per key (others wait for the same answer), bounded and timed."""
        future = self._calls.get(key)
        if future is None:
            future = asyncio.ensure_future(self._bounded(call))
            self._calls[key] = future
        result: T = await asyncio.shield(future)
        return result

    async def _bounded(self, call: Callable[[], Awaitable[T]]) -> T:
        async with self._limit:
            async with asyncio.timeout(self._timeout_s):
                return await call()

    def _add(
        self,
        key: Hashable,
        system: LiveSystem,
        subject: str,
        where: _Where,
        run: Callable[[], Awaitable[str]],
    ) -> None:
        planned = self._planned.get(key)
        if planned is None:
            planned = self._planned[key] = _Planned(system, subject, run)
        planned.where.append(where)

    def _concern(self, schema: type[C]) -> C | None:
        try:
            return self._bundle.get(schema)
        except KeyError:
            return None

    def _client(self, name: str, make: Callable[[], T]) -> T:
        """One client per system, made when first needed (a system the bundle does not use
        gets none); a client that cannot be made (a missing secret) fails each check."""
        if name not in self._clients:
            self._clients[name] = make()
        client: T = self._clients[name]
        return client

    # -------------------------------------------------------- Core Signature
    def _core_signature(self) -> CoreSignatureClient:
        def make() -> CoreSignatureClient:
            cs = self._settings.core_signature
            tokens = ClientCredentialsTokenProvider(
                self._http,
                cs.token_url,
                cs.client_id,
                self._settings.secret(cs.client_secret),
                system="core-signature-oauth",
                timeout_s=self._timeout_s,
            )
            return CoreSignatureClient(self._http, cs.base_url, tokens, timeout_s=self._timeout_s)

        return self._client("core_signature", make)

    async def _templates(self) -> list[CsTemplate]:
        client = self._core_signature()
        return await self._call("core_signature.templates", client.list_templates)

    def _plan_core_signature(self) -> None:
        routing = self._concern(RoutingRules)
        if routing is None:
            return
        for at, rule in _routing_rules(routing):
            name = rule.signature_template
            self._add(
                ("template", name),
                "core_signature",
                f"signature template {name!r}",
                _Where(ROUTING_FILE, f"{at}.signature_template"),
                partial(self._check_template, name),
            )

    async def _check_template(self, name: str) -> str:
        templates = await self._templates()
        for template in templates:
            if name in (template.name, template.uuid):
                return f"found: {template.name!r} (uuid {template.uuid})"
        raise _Failed(
            f"Core Signature has no template named {name!r} (nor with that uuid) among its "
            f"{len(templates)} templates"
        )

    # -------------------------------------------------------- Content Server
    def _content_server(self) -> ContentServerClient:
        def make() -> ContentServerClient:
            otcs = self._settings.content_server
            auth = OtcsTicketAuth(
                self._http,
                otcs.base_url,
                otcs.username,
                self._settings.secret(otcs.password),
                timeout_s=self._timeout_s,
            )
            return ContentServerClient(self._http, otcs.base_url, auth, timeout_s=self._timeout_s)

        return self._client("content_server", make)

    async def _node(self, node_id: int) -> Node | None:
        """The node, or None when Content Server has none with that id."""
        client = self._content_server()

        async def get() -> Node | None:
            try:
                return await client.get_node(node_id, fields=("properties",))
            except NotFoundError:
                return None

        return await self._call(("content_server.node", node_id), get)

    async def _workspace_types(self) -> dict[int, WorkspaceType]:
        client = self._content_server()
        types = await self._call("content_server.workspace_types", client.workspace_types)
        return {t.id: t for t in types}

    def _plan_content_server(self) -> None:
        routing = self._concern(RoutingRules)
        if routing is not None:
            for at, rule in _routing_rules(routing):
                self._plan_workspace_type(ROUTING_FILE, at, rule.workspace_type_id)
                self._plan_template(
                    ROUTING_FILE,
                    f"{at}.workspace_template_id",
                    rule.workspace_type_id,
                    rule.workspace_template_id,
                )
                self._plan_folder(
                    ROUTING_FILE, f"{at}.workspace_parent_id", rule.workspace_parent_id
                )
                self._plan_category(ROUTING_FILE, f"{at}.category_id", rule.category_id)
                for name, attr in rule.category_attributes.items():
                    self._plan_attribute(
                        ROUTING_FILE, f"{at}.category_attributes.{name}", rule.category_id, attr
                    )
                self._plan_classification(
                    ROUTING_FILE, f"{at}.rm_classification_id", rule.rm_classification_id
                )
        mappings = self._concern(WorkspaceMappings)
        if mappings is not None:
            for key, m in mappings.types.items():
                at = f"types.{key}"
                self._plan_workspace_type(WORKSPACES_FILE, at, m.workspace_type_id)
                self._plan_template(
                    WORKSPACES_FILE, f"{at}.template_id", m.workspace_type_id, m.template_id
                )
                if m.parent_id is not None:
                    self._plan_folder(WORKSPACES_FILE, f"{at}.parent_id", m.parent_id)
                self._plan_category(WORKSPACES_FILE, f"{at}.category_id", m.category_id)
                for name, attr in m.attributes.items():
                    self._plan_attribute(
                        WORKSPACES_FILE, f"{at}.attributes.{name}", m.category_id, attr
                    )
                document_category = m.document_category_id or m.category_id
                if m.document_category_id is not None:
                    self._plan_category(
                        WORKSPACES_FILE, f"{at}.document_category_id", m.document_category_id
                    )
                for name, attr in m.document_attributes.items():
                    self._plan_attribute(
                        WORKSPACES_FILE, f"{at}.document_attributes.{name}", document_category, attr
                    )
                if m.rm_classification_id is not None:
                    self._plan_classification(
                        WORKSPACES_FILE, f"{at}.rm_classification_id", m.rm_classification_id
                    )
                if m.closing is not None and m.closing.rm_classification_id is not None:
                    self._plan_classification(
                        WORKSPACES_FILE,
                        f"{at}.closing.rm_classification_id",
                        m.closing.rm_classification_id,
                    )
        records = self._concern(Records)
        if records is not None:
            for i, retention in enumerate(records.retention_classes):
                self._plan_classification(RECORDS_FILE, f"retention_classes[{i}].id", retention.id)

    def _plan_workspace_type(self, file: str, at: str, type_id: int) -> None:
        path = f"{at}.workspace_type_id"
        self._add(
            ("workspace_type", type_id),
            "content_server",
            f"business workspace type {type_id}",
            _Where(file, path),
            lambda: self._check_workspace_type(type_id),
        )

    async def _check_workspace_type(self, type_id: int) -> str:
        wtype = (await self._workspace_types()).get(type_id)
        if wtype is None:
            raise _Failed(f"Content Server has no business workspace type {type_id}")
        return f"found: {wtype.name!r}"

    def _plan_template(self, file: str, path: str, type_id: int, template_id: int) -> None:
        self._add(
            ("workspace_template", type_id, template_id),
            "content_server",
            f"workspace template {template_id} of type {type_id}",
            _Where(file, path),
            lambda: self._check_template_of_type(type_id, template_id),
        )

    async def _check_template_of_type(self, type_id: int, template_id: int) -> str:
        wtype = (await self._workspace_types()).get(type_id)
        if wtype is None:
            raise _Failed(f"not checked: Content Server has no business workspace type {type_id}")
        if template_id not in wtype.template_ids:
            known = ", ".join(str(t) for t in wtype.template_ids) or "none"
            raise _Failed(
                f"business workspace type {type_id} ({wtype.name!r}) has no template "
                f"{template_id} (its templates: {known})"
            )
        return f"found in type {wtype.name!r}"

    def _plan_folder(self, file: str, path: str, node_id: int) -> None:
        self._add(
            ("folder", node_id),
            "content_server",
            f"workspace parent node {node_id}",
            _Where(file, path),
            lambda: self._check_folder(node_id),
        )

    async def _check_folder(self, node_id: int) -> str:
        node = await self._node(node_id)
        if node is None:
            raise _Failed(f"Content Server has no node {node_id}")
        props = node.properties
        return f"found: {props.name!r} ({props.type_name or f'type {props.type}'})"

    def _plan_category(self, file: str, path: str, category_id: int) -> None:
        self._add(
            ("category", category_id),
            "content_server",
            f"category {category_id}",
            _Where(file, path),
            lambda: self._check_category(category_id),
        )

    async def _category(self, category_id: int) -> Node:
        """The category's node; _Failed when there is none or the node is something else."""
        node = await self._node(category_id)
        if node is None:
            raise _Failed(f"Content Server has no category {category_id} (no node with that id)")
        props = node.properties
        if props.type != CATEGORY_NODE_TYPE:
            raise _Failed(
                f"node {category_id} ({props.name!r}) is a {props.type_name or 'node'} "
                f"(type {props.type}), not a category (type {CATEGORY_NODE_TYPE})"
            )
        return node

    async def _check_category(self, category_id: int) -> str:
        node = await self._category(category_id)
        return f"found: {node.properties.name!r}"

    def _plan_attribute(self, file: str, path: str, category_id: int, attr_id: int) -> None:
        self._add(
            ("attribute", category_id, attr_id),
            "content_server",
            f"attribute {attr_id} of category {category_id}",
            _Where(file, path),
            lambda: self._check_attribute(category_id, attr_id),
        )

    async def _check_attribute(self, category_id: int, attr_id: int) -> str:
        try:
            category = await self._category(category_id)
        except _Failed as exc:
            raise _Failed(f"not checked: {exc.message}") from None
        client = self._content_server()
        ids = await self._call(
            ("content_server.category_form", category_id),
            lambda: client.category_attribute_ids(category_id, self._anchor),
        )
        if attr_id not in ids:
            known = ", ".join(str(i) for i in sorted(ids)) or "none"
            raise _Failed(
                f"category {category_id} ({category.properties.name!r}) has no attribute "
                f"{attr_id} (its attributes: {known})"
            )
        return f"found in category {category.properties.name!r}"

    def _plan_classification(self, file: str, path: str, class_id: int) -> None:
        self._add(
            ("classification", class_id),
            "content_server",
            f"records-management classification {class_id}",
            _Where(file, path),
            lambda: self._check_classification(class_id),
        )

    async def _check_classification(self, class_id: int) -> str:
        node = await self._node(class_id)
        if node is None:
            raise _Failed(f"Content Server has no records-management classification {class_id}")
        props = node.properties
        return f"found: {props.name!r} ({props.type_name or f'type {props.type}'})"

    # ------------------------------------------------------------- Amplience
    def _plan_amplience(self) -> None:
        distribution = self._concern(ContentDistribution)
        if distribution is None:
            return
        named = [
            (
                "approval.workflow_state_id",
                distribution.approval.workflow_state_id,
                distribution.approval.workflow_state_label,
            ),
            (
                "feedback.failed_state_id",
                distribution.feedback.failed_state_id,
                distribution.feedback.failed_state_label,
            ),
            (
                "feedback.distributed_state_id",
                distribution.feedback.distributed_state_id,
                distribution.feedback.distributed_state_label,
            ),
        ]
        for path, state_id, label in named:
            if state_id is None:
                continue
            self._add(
                ("workflow_state", state_id),
                "amplience",
                f"workflow state {label!r} ({state_id})",
                _Where(DISTRIBUTION_FILE, path),
                partial(self._check_state, state_id, label),
            )

    async def _check_state(self, state_id: str, label: str) -> str:
        try:
            client = self._client(
                "amplience", lambda: AmplienceClient.from_settings(self._settings, self._http)
            )
        except ValueError as exc:
            raise _Failed(f"Amplience is not configured in this environment: {exc}") from None
        states = await self._call("amplience.workflow_states", client.workflow_states)
        for state in states:
            if state.id == state_id:
                if state.label.casefold() != label.casefold():
                    return f"found, labelled {state.label!r} on the hub"
                return "found"
        known = ", ".join(f"{s.label!r} ({s.id})" for s in states[:20]) or "none"
        hub = self._settings.amplience.hub_id
        raise _Failed(
            f"the Amplience hub {hub} has no workflow state {state_id} (its states: {known})"
        )

    # ---------------------------------------------------- targets, subscribers
    def _plan_endpoints(self) -> None:
        distribution = self._concern(ContentDistribution)
        if distribution is not None:
            overrides = self._settings.distribution.endpoints
            for name, target in distribution.targets.items():
                self._plan_ping(
                    "target",
                    f"{target.kind} {name!r}",
                    _Where(DISTRIBUTION_FILE, f"targets.{name}.endpoint"),
                    name,
                    overrides.get(name) or target.endpoint,
                    target.allowed_hosts,
                    target.secret,
                )
        events = self._concern(EcmEvents)
        if events is not None:
            overrides = self._settings.ecm_events.endpoints
            for name, sub in events.subscriptions.items():
                if not sub.enabled:
                    continue  # nothing is sent to it
                self._plan_ping(
                    "subscriber",
                    f"subscriber {name!r}",
                    _Where(ECM_EVENTS_FILE, f"subscriptions.{name}.endpoint"),
                    name,
                    overrides.get(name) or sub.endpoint,
                    sub.allowed_hosts,
                    sub.secret,
                )

    def _plan_ping(
        self,
        system: LiveSystem,
        subject: str,
        where: _Where,
        name: str,
        url: str,
        allowed_hosts: list[str],
        secret_ref: str,
    ) -> None:
        self._add(
            (system, name),
            system,
            subject,
            where,
            lambda: self._ping(system, name, url, allowed_hosts, secret_ref),
        )

    async def _ping(
        self, system: LiveSystem, name: str, url: str, allowed_hosts: list[str], secret_ref: str
    ) -> str:
        if not url.strip():
            raise _Failed("no endpoint configured in this environment")
        if problem := endpoint_problem(url, allowed_hosts):
            raise _Failed(f"endpoint not allowed: {problem}")
        try:
            secret = self._settings.secret(secret_ref)
        except SecretResolutionError as exc:
            raise _Failed(f"its webhook secret cannot be read: {exc}") from None
        sender = WebhookSender(self._http, secret, system=system, timeout_s=self._timeout_s)
        body = json.dumps(
            {
                "type": PING_TYPE,
                "timestamp": datetime.now(UTC).isoformat(),
                "data": {
                    system: name,
                    "environment": self._bundle.profile,
                    "config_version": self._bundle.version,
                },
            }
        )
        started = time.monotonic()

        async def send() -> httpx.Response:
            return await sender.send(url, f"ping_{uuid.uuid4().hex}", body)

        try:
            response = await self._call(("ping", system, name), send)
        except TimeoutError:
            raise _Failed(f"no answer within {self._timeout_s:g} s from {url}") from None
        except ExternalServiceError as exc:
            if exc.status is None:
                raise _Failed(f"unreachable at {url}: {exc.message}") from None
            answer = exc.excerpt or exc.message
            raise _Failed(f"answered HTTP {exc.status} at {url}: {_clip(answer, 300)}") from None
        elapsed_ms = int((time.monotonic() - started) * 1000)
        return f"answered HTTP {response.status_code} in {elapsed_ms} ms at {url}"


def _where(where: _Where, first_file: str) -> str:
    return where.path if where.file == first_file else f"{where.file}: {where.path}"


def _clip(text: str, limit: int = MAX_MESSAGE) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _routing_rules(routing: RoutingRules) -> Iterator[tuple[str, RoutingRule]]:
    """Every rule with its path: the default rules, then a rollout's."""
    for i, rule in enumerate(routing.rules):
        yield f"rules[{i}]", rule
    if routing.rollout is not None:
        for i, rule in enumerate(routing.rollout.rules):
            yield f"rollout.rules[{i}]", rule
