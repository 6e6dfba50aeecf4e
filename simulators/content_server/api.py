"""HTTP surface of the Content Server simulator under /otcs/cs.exe/api."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import FormData, UploadFile

from simulators.content_server.config import ContentServerConfig
from simulators.content_server.control import control_routes
from simulators.content_server.models import (
    BUSINESS_WORKSPACE,
    BusinessObject,
    Node,
    OtcsError,
    Version,
    as_int,
)
from simulators.content_server.sim import (
    AUDIT_EVENTS,
    ContentServerSim,
    business_object,
    current_sim,
)
from simulators.kit.control import simulator_app
from simulators.kit.faults import fault_gate


async def _require_ticket(request: Request) -> None:
    ticket = request.headers.get("otcsticket")
    if not ticket:
        raise OtcsError(401, "Authentication required: missing OTCSTicket header.")
    current_sim(request).refresh_ticket(ticket)
    request.state.otcs_ticket = ticket


async def _read_form(request: Request) -> tuple[dict[str, Any], FormData]:
    """The payload of a form/multipart request: `body` JSON merged with plain fields."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        raise OtcsError(
            400,
            "Content Server expects form or multipart data, not JSON "
            "(send complex payloads as the form field 'body').",
        )
    form = await request.form()
    payload: dict[str, Any] = {}
    raw_body = form.get("body")
    if isinstance(raw_body, str) and raw_body:
        try:
            parsed = json.loads(raw_body)
        except json.JSONDecodeError:
            raise OtcsError(400, "The 'body' field is not valid JSON.") from None
        if not isinstance(parsed, dict):
            raise OtcsError(400, "The 'body' field must be a JSON object.")
        payload.update(parsed)
    for key, value in form.multi_items():
        if key != "body" and isinstance(value, str):
            payload.setdefault(key, value)
    return payload, form


async def _file_part(form: FormData) -> tuple[UploadFile | None, bytes | None]:
    upload = form.get("file")
    if isinstance(upload, UploadFile):
        return upload, await upload.read()
    return None, None


def _paging(page: int, limit: int, total: int) -> dict[str, Any]:
    return {
        "page": page,
        "limit": limit,
        "page_total": max(1, -(-total // limit)),
        "total_count": total,
        "range_min": min(total, (page - 1) * limit + 1),
        "range_max": min(total, page * limit),
    }


def _page_args(request: Request, form: Mapping[str, Any] | None = None) -> tuple[int, int]:
    source = form if form is not None else request.query_params
    page = as_int(source.get("page", 1), "page")
    limit = as_int(source.get("limit", current_sim(request).config.page_size), "limit")
    if page < 1 or limit < 1:
        raise OtcsError(400, "page and limit must be positive.")
    return page, limit


def _fields(request: Request) -> set[str] | None:
    values = request.query_params.getlist("fields")
    if not values:
        return None
    return {v.split("{")[0].strip() for value in values for v in value.split("|")}


def _api_routes() -> APIRouter:
    base = "/otcs/cs.exe/api"
    public = APIRouter(prefix=base, dependencies=[Depends(fault_gate)])
    api = APIRouter(prefix=base, dependencies=[Depends(fault_gate), Depends(_require_ticket)])

    @public.post("/v1/auth")
    async def auth(request: Request) -> dict[str, Any]:
        payload, _ = await _read_form(request)
        ticket = current_sim(request).authenticate(
            str(payload.get("username", "")), str(payload.get("password", ""))
        )
        return {"ticket": ticket}

    @api.post("/v2/nodes")
    async def create_node(request: Request) -> dict[str, Any]:
        payload, form = await _read_form(request)
        upload, content = await _file_part(form)
        sim = current_sim(request)
        node = sim.create_node(payload, upload, content)
        return {"id": node.id, "results": {"data": {"properties": sim.properties(node)}}}

    @api.get("/v2/nodes/{node_id}")
    async def get_node(node_id: int, request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        if node_id not in sim.nodes and (definition := sim.definition_properties(node_id)):
            return {"results": {"data": {"properties": definition}}}
        node = sim.opened(sim.node(node_id))
        return {"results": {"data": sim.node_data(node, _fields(request))}}

    @api.get("/v1/nodes/{node_id}/content")
    async def node_content(node_id: int, request: Request) -> Response:
        node = current_sim(request).node(node_id)
        if not node.versions:
            raise OtcsError(400, f"Node {node_id} has no content.")
        return _content_response(node.versions[-1])

    @api.get("/v2/nodes/{node_id}/versions/{number}/content")
    async def version_content(node_id: int, number: str, request: Request) -> Response:
        node = current_sim(request).node(node_id)
        if not node.versions:
            raise OtcsError(400, f"Node {node_id} has no versions.")
        index = len(node.versions) if number == "latest" else as_int(number, "version")
        if not 1 <= index <= len(node.versions):
            raise OtcsError(404, f"Version {number} of node {node_id} does not exist.")
        return _content_response(node.versions[index - 1])

    @api.get("/v2/nodes/{node_id}/versions")
    async def list_versions(node_id: int, request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        node = sim.node(node_id)
        return {
            "results": [{"data": {"versions": sim.version_json(node, v)}} for v in node.versions]
        }

    @api.post("/v2/nodes/{node_id}/versions")
    async def add_version(node_id: int, request: Request) -> dict[str, Any]:
        payload, form = await _read_form(request)
        upload, content = await _file_part(form)
        if upload is None or content is None:
            raise OtcsError(400, "A new version needs a file part.")
        sim = current_sim(request)
        node = sim.node(node_id)
        version = sim.add_version(node, upload, content, str(payload.get("description") or ""))
        return {"results": {"data": {"properties": sim.version_json(node, version)}}}

    @api.get("/v2/nodes/{node_id}/nodes")
    async def list_children(
        node_id: int,
        request: Request,
        where_name: str | None = None,
        where_type: int | None = None,
    ) -> dict[str, Any]:
        sim = current_sim(request)
        sim.node(node_id)
        # where_name is a case-insensitive "contains" filter, as on the real server.
        children = [
            n
            for n in sim.children(node_id)
            if (where_name is None or where_name.casefold() in n.name.casefold())
            and (where_type is None or n.type == where_type)
        ]
        page, limit = _page_args(request)
        chunk = children[(page - 1) * limit : page * limit]
        return {
            "results": [{"data": {"properties": sim.properties(n)}} for n in chunk],
            "collection": {"paging": _paging(page, limit, len(children)), "sorting": {}},
        }

    @api.post("/v2/nodes/{node_id}/categories")
    async def apply_category(node_id: int, request: Request) -> dict[str, Any]:
        payload, _ = await _read_form(request)
        cat_id = as_int(payload.pop("category_id", None), "category_id")
        sim = current_sim(request)
        sim.apply_category(sim.node(node_id), cat_id, payload)
        return {"results": {}}

    @api.put("/v2/nodes/{node_id}/categories/{cat_id}")
    async def update_category(node_id: int, cat_id: int, request: Request) -> dict[str, Any]:
        payload, _ = await _read_form(request)
        if "category_id" in payload and as_int(payload.pop("category_id"), "category_id") != cat_id:
            raise OtcsError(400, f"category_id does not match category {cat_id} in the path.")
        sim = current_sim(request)
        sim.update_category(sim.node(node_id), cat_id, payload)
        return {"results": {}}

    @api.post("/v1/nodes/{node_id}/rmclassifications")
    async def rm_classify(node_id: int, request: Request) -> dict[str, Any]:
        payload, _ = await _read_form(request)
        sim = current_sim(request)
        node = sim.node(node_id)
        class_id = as_int(payload.get("class_id"), "class_id")
        apply_to_sub_items = str(payload.get("apply_to_sub_items", False)).lower() in (
            "true",
            "1",
        )
        sim.classify(node, class_id, apply_to_sub_items)
        return {
            "results": {
                "node_id": node.id,
                "class_id": class_id,
                "rm_classifications": node.rm_classifications,
            }
        }

    @api.post("/v1/nodes/{node_id}/holds")
    async def apply_hold(node_id: int, request: Request) -> dict[str, Any]:
        payload, _ = await _read_form(request)
        sim = current_sim(request)
        node = sim.node(node_id)
        hold_id = as_int(payload.get("hold_id"), "hold_id")
        sim.hold(node, hold_id)
        return {"results": {"node_id": node.id, "hold_id": hold_id, "holds": node.holds}}

    @api.get("/v2/businessworkspacetypes")
    async def workspace_types(request: Request, expand_templates: bool = False) -> dict[str, Any]:
        results = []
        for wtype in current_sim(request).config.workspace_types:
            creation: dict[str, Any] = (
                {"location": "StaticNodeId", "location_value": str(wtype.location_id)}
                if wtype.location_id is not None
                else {"location": "ParentId", "location_value": None}
            )
            props: dict[str, Any] = {
                "wksp_type_id": wtype.id,
                "wksp_type_name": wtype.name,
                "wksp_creation": creation,
                "rm_enabled": wtype.rm_enabled,
                "relations": [],
            }
            if expand_templates:
                props["templates"] = [
                    {"id": t.id, "name": t.name, "subtype": BUSINESS_WORKSPACE}
                    for t in wtype.templates
                ]
            results.append({"data": {"properties": props}})
        return {"results": results}

    @api.post("/v2/businessworkspaces")
    async def create_workspace(request: Request) -> dict[str, Any]:
        payload, _ = await _read_form(request)
        workspace = current_sim(request).create_workspace(payload)
        return {"results": {"id": workspace.id, "direct_open": True, "sub_folder_id": 0}}

    @api.get("/v2/businessworkspaces")
    async def find_workspaces(
        request: Request,
        where_ext_system_id: str | None = None,
        where_bo_type: str | None = None,
        where_bo_id: str | None = None,
        where_workspace_type_id: int | None = None,
        where_name: str | None = None,
        expanded_view: bool = False,
    ) -> dict[str, Any]:
        sim = current_sim(request)
        # Without expanded_view=true the real server searches only the workspaces the user
        # accessed recently: a lookup by business object then misses most of them.
        if expanded_view and where_ext_system_id and where_bo_type and where_bo_id:
            # The lookup by business object, from the binding index (provisioning's hot path).
            ref = BusinessObject(where_ext_system_id, where_bo_type, where_bo_id)
            searched = [n for n in (sim.workspace_for(ref),) if n is not None]
        elif expanded_view:
            searched = list(sim.nodes.values())
        else:
            searched = [sim.nodes[i] for i in sim.recently_accessed if i in sim.nodes]

        def bound(node: Node) -> bool:
            if not (where_ext_system_id or where_bo_type or where_bo_id):
                return True
            return any(
                where_ext_system_id in (None, r.ext_system_id)
                and where_bo_type in (None, r.bo_type)
                and where_bo_id in (None, r.bo_id)
                for r in node.references
            )

        found = [
            n
            for n in searched
            if n.type == BUSINESS_WORKSPACE
            and bound(n)
            and where_workspace_type_id in (None, n.wksp_type_id)
            and (where_name is None or where_name.casefold() in n.name.casefold())
        ]
        page, limit = _page_args(request)
        chunk = found[(page - 1) * limit : page * limit]
        return {
            "results": [
                {
                    "data": {
                        "properties": sim.properties(n),
                        "business_properties": sim.business_properties(n),
                    }
                }
                for n in chunk
            ],
            "paging": _paging(page, limit, len(found)),
        }

    @api.get("/v2/businessworkspaces/{workspace_id}")
    async def get_workspace(workspace_id: int, request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        node = sim.node(workspace_id)
        if node.type != BUSINESS_WORKSPACE:
            raise OtcsError(404, f"Node {workspace_id} is not a business workspace.")
        sim.opened(node)
        return {"results": {"data": sim.node_data(node, _fields(request))}}

    @api.put("/v2/businessworkspaces/{workspace_id}/workspacereferences")
    async def add_reference(workspace_id: int, request: Request) -> dict[str, Any]:
        payload, _ = await _read_form(request)
        sim = current_sim(request)
        node = sim.node(workspace_id)
        ref = business_object(payload, required=True)
        assert ref is not None
        sim.add_reference(node, ref)
        return {"results": {"data": {"workspace_references": sim.workspace_references(node)}}}

    @api.delete("/v2/businessworkspaces/{workspace_id}/workspacereferences")
    async def remove_reference(workspace_id: int, request: Request) -> dict[str, Any]:
        payload, _ = await _read_form(request)
        sim = current_sim(request)
        node = sim.node(workspace_id)
        ref = business_object(payload, required=True)
        assert ref is not None
        sim.remove_reference(node, ref)
        return {"results": {"data": {"workspace_references": sim.workspace_references(node)}}}

    @api.get("/v2/externalsystems/{ext_system_id}/botypes/{bo_type}/boids/{bo_id}")
    async def workspace_by_business_object(
        ext_system_id: str, bo_type: str, bo_id: str, request: Request
    ) -> dict[str, Any]:
        sim = current_sim(request)
        found = sim.workspace_for(BusinessObject(ext_system_id, bo_type, bo_id))
        results = [_workspace_item(sim, found)] if found is not None else []
        return {"paging": _paging(1, max(1, len(results)), len(results)), "results": results}

    @api.get("/v1/forms/nodes/categories/create")
    async def category_create_form(request: Request, id: int, category_id: int) -> dict[str, Any]:
        return current_sim(request).category_form(id, category_id)

    @api.get("/v2/forms/businessworkspaces/create")
    async def workspace_create_form(
        request: Request,
        template_id: int,
        ext_system_id: str | None = None,
        bo_type: str | None = None,
        bo_id: str | None = None,
        parent_id: int | None = None,
    ) -> dict[str, Any]:
        sim = current_sim(request)
        business_object(
            {"ext_system_id": ext_system_id, "bo_type": bo_type, "bo_id": bo_id}, required=False
        )
        if parent_id is not None:
            sim.node(parent_id)
        return sim.create_form(template_id)

    # ------------------------------------------------ workspace roles and members
    @api.get("/v2/businessworkspaces/{workspace_id}/roles")
    async def workspace_roles(workspace_id: int, request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        node = sim.workspace(workspace_id)
        return {"results": [{"data": {"properties": sim.role_json(node, r)}} for r in node.roles]}

    @api.get("/v2/businessworkspaces/{workspace_id}/roles/{role_id}")
    async def workspace_role(workspace_id: int, role_id: int, request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        node = sim.workspace(workspace_id)
        role = sim.role(node, role_id)
        return {"results": {"data": {"properties": sim.role_json(node, role)}}}

    @api.put("/v2/businessworkspaces/{workspace_id}/roles/{role_id}")
    async def role_permissions(workspace_id: int, role_id: int, request: Request) -> dict[str, Any]:
        payload, _ = await _read_form(request)
        sim = current_sim(request)
        node = sim.workspace(workspace_id)
        role = sim.set_role_permissions(
            node, role_id, payload.get("permissions"), payload.get("apply_to")
        )
        return {"results": {"data": {"properties": sim.role_json(node, role)}}}

    @api.get("/v2/businessworkspaces/{workspace_id}/roles/{role_id}/members")
    async def role_members(workspace_id: int, role_id: int, request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        role = sim.role(sim.workspace(workspace_id), role_id)
        members = [sim.members[m] for m in role.members if m in sim.members]
        return {"results": [{"data": {"properties": sim.member_json(m)}} for m in members]}

    @api.post("/v2/businessworkspaces/{workspace_id}/roles/{role_id}/members")
    async def add_role_member(workspace_id: int, role_id: int, request: Request) -> dict[str, Any]:
        payload, _ = await _read_form(request)
        sim = current_sim(request)
        member = sim.add_role_member(
            sim.workspace(workspace_id), role_id, as_int(payload.get("id"), "id")
        )
        return {"results": {"data": {"properties": sim.member_json(member)}}}

    @api.delete("/v2/businessworkspaces/{workspace_id}/roles/{role_id}/members/{member_id}")
    async def remove_role_member(
        workspace_id: int, role_id: int, member_id: int, request: Request
    ) -> dict[str, Any]:
        sim = current_sim(request)
        sim.remove_role_member(sim.workspace(workspace_id), role_id, member_id)
        return {"results": {}}

    @api.get("/v2/members")
    async def find_members(
        request: Request, where_name: str | None = None, where_type: int | None = None
    ) -> dict[str, Any]:
        sim = current_sim(request)
        found = sim.find_members(where_name, where_type)
        page, limit = _page_args(request)
        chunk = found[(page - 1) * limit : page * limit]
        return {
            "collection": {
                "paging": _paging(page, limit, len(found)),
                "sorting": {"sort": [{"key": "sort", "value": "asc_id"}]},
            },
            "results": [{"data": {"properties": sim.member_json(m)}} for m in chunk],
        }

    @api.get("/v2/members/{member_id}")
    async def get_member(member_id: int, request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        return {"results": {"data": {"properties": sim.member_json(sim.member(member_id))}}}

    # ------------------------------------------------------- related workspaces
    @api.post("/v2/businessworkspaces/{workspace_id}/relateditems")
    async def relate(workspace_id: int, request: Request) -> dict[str, Any]:
        payload, _ = await _read_form(request)
        sim = current_sim(request)
        other = as_int(payload.get("rel_bw_id"), "rel_bw_id")
        sim.relate(sim.node(workspace_id), other, str(payload.get("rel_type") or "child"))
        return {"results": {}}

    @api.get("/v2/businessworkspaces/{workspace_id}/relateditems")
    async def related_items(
        workspace_id: int, request: Request, where_relationtype: str | None = None
    ) -> dict[str, Any]:
        sim = current_sim(request)
        found = sim.related(sim.node(workspace_id), where_relationtype)
        page, limit = _page_args(request)
        chunk = found[(page - 1) * limit : page * limit]
        return {
            "paging": _paging(page, limit, len(found)),
            "results": [_workspace_item(sim, n) for n in chunk],
        }

    # ------------------------------------------------------ categories and audit
    @api.get("/v2/nodes/{node_id}/categories")
    async def node_categories(node_id: int, request: Request) -> dict[str, Any]:
        sim = current_sim(request)
        node = sim.node(node_id)
        results = []
        for cat_id, values in sorted(node.categories.items()):
            category = sim.config.categories.get(cat_id)
            results.append(
                {
                    "data": {"categories": dict(values)},
                    "metadata": {
                        str(cat_id): {
                            "key": str(cat_id),
                            "name": category.name if category else str(cat_id),
                            "persona": "category",
                        }
                    },
                }
            )
        return {"results": results}

    @api.get("/v2/nodes/{node_id}/audit")
    async def node_audit(
        node_id: int,
        request: Request,
        sort: str = "desc_audit_date",
        where_audit_date_start: str | None = None,
        where_audit_date_end: str | None = None,
        where_type: int | None = None,
    ) -> dict[str, Any]:
        sim = current_sim(request)
        node = sim.node(node_id)
        if sort not in ("asc_audit_date", "desc_audit_date"):
            raise OtcsError(400, f"Invalid value for 'sort': {sort!r}.")
        start, end = _day(where_audit_date_start), _day(where_audit_date_end)
        # The date filters are day-granular: the time of day is not considered.
        entries = [
            a
            for a in node.audit
            if (start is None or a.audit_date.date() >= start)
            and (end is None or a.audit_date.date() <= end)
            and where_type in (None, a.event_type)
        ]
        entries.sort(key=lambda a: a.audit_date, reverse=sort == "desc_audit_date")
        page, limit = _page_args(request)
        chunk = entries[(page - 1) * limit : page * limit]
        return {
            "collection": {
                "paging": _paging(page, limit, len(entries)),
                "sorting": {"sort": [{"key": "sort", "value": sort}]},
            },
            "results": {
                "data": {
                    "audit": [sim.audit_json(a) for a in chunk],
                    "audit_event_types": [
                        {"id": event_id, "name": name}
                        for event_id, name in sorted(set(AUDIT_EVENTS.values()))
                    ],
                }
            },
        }

    @api.post("/v2/search")
    async def search(request: Request) -> dict[str, Any]:
        payload, _ = await _read_form(request)
        sim = current_sim(request)
        lookfor = str(payload.get("lookfor") or "complexquery").lower()  # the real default
        if lookfor not in LOOKFOR:
            raise OtcsError(400, f"Invalid value for 'lookfor': {lookfor!r}.")
        found = _search(sim, str(payload.get("where", "")), lookfor)
        page, limit = _page_args(request, payload)
        chunk = found[(page - 1) * limit : page * limit]
        return {
            "collection": {"paging": _paging(page, limit, len(found)), "sorting": {}},
            "results": [{"data": {"properties": sim.properties(n)}} for n in chunk],
        }

    router = APIRouter()
    router.include_router(public)
    router.include_router(api)
    return router


LOOKFOR = frozenset({"allwords", "anywords", "exactphrase", "complexquery"})


def _search(sim: ContentServerSim, where: str, lookfor: str) -> list[Node]:
    """Name search: field prefixes such as OTName: are dropped, '*' is a wildcard. The
    default, complexquery, reads quoted phrases and ANDs the remaining words."""
    phrases: list[str] = []
    if lookfor == "complexquery":
        phrases = [p.casefold() for p in re.findall(r'"([^"]+)"', where)]
        where = re.sub(r'"[^"]*"', " ", where)
    text = re.sub(r"\b\w+:", " ", where).replace("*", " ").strip().casefold()
    if not text and not phrases:
        return []
    names = [(n, n.name.casefold()) for n in sim.nodes.values()]
    if lookfor == "exactphrase":
        return [n for n, name in names if text in name]
    words = text.split()
    if lookfor == "anywords":
        return [n for n, name in names if any(w in name for w in words)]
    return [
        n for n, name in names if all(w in name for w in words) and all(p in name for p in phrases)
    ]


def _workspace_item(sim: ContentServerSim, node: Node) -> dict[str, Any]:
    return {
        "data": {
            "properties": sim.properties(node),
            "business_properties": sim.business_properties(node),
        }
    }


def _day(value: str | None) -> date | None:
    if value is None or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        raise OtcsError(400, f"Invalid date {value!r}: expected YYYY-MM-DD.") from None


def _content_response(version: Version) -> Response:
    return Response(
        version.content,
        media_type=version.mime_type,
        headers={"Content-Disposition": f'attachment; filename="{version.file_name}"'},
    )


def create_app(config: ContentServerConfig | None = None) -> FastAPI:
    """The Content Server simulator; its state is `app.state.sim` (a ContentServerSim)."""
    app = simulator_app(
        "Content Server simulator",
        ContentServerSim(config or ContentServerConfig()),
        _api_routes(),
        control_routes(),
        error_body=lambda status, message: {"error": message},
    )

    @app.middleware("http")
    async def ticket_header(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        # Content Server hands back the (refreshed) ticket on every authenticated answer.
        ticket = getattr(request.state, "otcs_ticket", None)
        if ticket and response.status_code != 401:
            response.headers["OTCSTicket"] = ticket
        return response

    async def otcs_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, OtcsError)
        return JSONResponse(exc.body(), status_code=exc.status)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return JSONResponse(
            {"error": f"Invalid {where}: {first.get('msg', 'bad request')}"}, status_code=400
        )

    app.add_exception_handler(OtcsError, otcs_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    return app
