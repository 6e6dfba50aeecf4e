"""The API's own documentation: Swagger UI and ReDoc from local assets, and an OpenAPI
document in which every operation names the scope it needs and shows its real errors.

The assets come with the `fastapi-offline` package (Swagger UI, ReDoc), so `/docs` and `/redoc`
work without internet. Scopes are read from each route's `require(...)` dependency and error
examples are built by the error classes themselves: nothing here is a hand-kept list.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel

from docflow.models import DocumentRef
from starter.api.auth import Scope, required_scopes
from starter.api.errors import (
    EXAMPLE_SUBJECT,
    ApiError,
    InsufficientScope,
    InvalidRequest,
    default_examples,
    domain_error,
    example_objects,
    validation_error,
)
from starter.api.uploads import parse_body
from starter.processes.base import DocumentNotStored

DOCS_ASSETS_URL = "/docs-assets"
# Swagger UI's default validator badge loads an image from swagger.io: never call out.
SWAGGER_UI_PARAMETERS: dict[str, Any] = {"validatorUrl": None}
SCOPES_EXTENSION = "x-required-scopes"


def documented_app(**kwargs: Any) -> FastAPI:
    """A FastAPI app whose `/docs` and `/redoc` pages and their assets are served by itself."""
    return FastAPIOffline(
        static_url=DOCS_ASSETS_URL, swagger_ui_parameters=SWAGGER_UI_PARAMETERS, **kwargs
    )


def route_scopes(route: APIRoute | RouteContext) -> tuple[Scope, ...]:
    """The scopes the route enforces (any one of them), from its `require(...)` dependency."""
    found: list[Scope] = []

    def visit(dependant: Dependant) -> None:
        for scope in required_scopes(dependant.call):
            if scope not in found:
                found.append(scope)
        for dependency in dependant.dependencies:
            visit(dependency)

    visit(route.dependant)
    return tuple(found)


def scope_sentence(scopes: Iterable[Scope]) -> str:
    named = " or ".join(f"`{scope.value}`" for scope in scopes)
    return f"Requires scope {named}."


def document_operations(app: FastAPI, body_models: Iterable[type[BaseModel]] = ()) -> None:
    """Complete every operation of `app.openapi()` with its scopes and route-specific errors.

    `body_models` are the models of bodies that routes parse themselves (`parse_body`) and
    reference by name in their `openapi_extra`; their 422 example is then real too.
    """
    generate = app.openapi
    by_name = {model.__name__: model for model in body_models}
    documented: dict[str, Any] | None = None

    def openapi() -> dict[str, Any]:
        nonlocal documented
        if documented is None:
            schema = generate()
            for route in iter_route_contexts(app.routes):
                if isinstance(route.original_route, APIRoute) and route.include_in_schema:
                    for method in route.methods or ():
                        operation = schema["paths"][route.path_format].get(method.lower())
                        if operation is not None:
                            _document_operation(route, operation, by_name, schema)
            documented = schema
        return documented

    app.openapi = openapi  # type: ignore[method-assign]


def _document_operation(
    route: RouteContext,
    operation: dict[str, Any],
    body_models: dict[str, type[BaseModel]],
    schema: dict[str, Any],
) -> None:
    scopes = route_scopes(route)
    if scopes:
        operation[SCOPES_EXTENSION] = [scope.value for scope in scopes]
        sentence = scope_sentence(scopes)
        description = operation.get("description", "")
        operation["description"] = f"{description}\n\n{sentence}" if description else sentence
        # OpenAPI 3.1 lets non-OAuth schemes name roles; one requirement per scheme and scope
        # says "any one of these credentials holding any one of these scopes".
        schemes = [name for requirement in operation.get("security", []) for name in requirement]
        operation["security"] = [{name: [scope.value]} for name in schemes for scope in scopes]
        _replace_example(operation, InsufficientScope.lacking(EXAMPLE_SUBJECT, scopes))
    refusal = _empty_body_refusal(route, operation, body_models) or _path_refusal(route)
    if refusal is not None:
        _replace_example(operation, refusal)
    if not _references(schema, operation.get("requestBody", {}), DocumentRef.__name__):
        _drop_example(operation, domain_error(DocumentNotStored("")))


def _empty_body_refusal(
    route: RouteContext, operation: dict[str, Any], body_models: dict[str, type[BaseModel]]
) -> InvalidRequest | None:
    """What the route really answers to an empty JSON object, if its body is a known model."""
    if route.body_field is not None:
        _, errors = route.body_field.validate({}, {}, loc=("body",))
        return validation_error(errors) if errors else None
    content = operation.get("requestBody", {}).get("content", {})
    reference = content.get("application/json", {}).get("schema", {}).get("$ref", "")
    model = body_models.get(reference.rsplit("/", 1)[-1])
    if model is None:
        return None
    try:
        parse_body(model, "{}", "body")
    except RequestValidationError as exc:
        return validation_error(exc.errors())
    return None


def _path_refusal(route: RouteContext) -> InvalidRequest | None:
    """What the route answers to a path parameter it refuses (a key with a `#`, an empty one)."""
    for field in route.dependant.path_params:
        for candidate in ("#", ""):
            _, errors = field.validate(candidate, {}, loc=("path", field.alias))
            if errors:
                return validation_error(errors)
    return None


def _references(schema: dict[str, Any], part: Any, name: str) -> bool:
    """Does `part` of the OpenAPI document reference the component `name`, at any depth?"""
    seen: set[str] = set()
    pending = [part]
    while pending:
        text = json.dumps(pending.pop())
        for ref in re.findall(r'"#/components/schemas/([^"]+)"', text):
            if ref == name:
                return True
            if ref not in seen:
                seen.add(ref)
                pending.append(schema.get("components", {}).get("schemas", {}).get(ref, {}))
    return False


def _drop_example(operation: dict[str, Any], example: ApiError) -> None:
    """Remove the examples with the status and code of `example` (they do not apply)."""
    status = str(example.status_code)
    content = operation.get("responses", {}).get(status, {}).get("content", {})
    examples: dict[str, Any] = content.get("application/json", {}).get("examples", {})
    for name, shown in list(examples.items()):
        if shown["value"]["error"]["code"] == example.code:
            del examples[name]


def _replace_example(operation: dict[str, Any], example: ApiError) -> None:
    """Put `example` in place of the default example with its status and code, if shown."""
    status = str(example.status_code)
    content = operation.get("responses", {}).get(status, {}).get("content", {})
    examples: dict[str, Any] | None = content.get("application/json", {}).get("examples")
    if examples is None:
        return
    defaults = [
        default.body().model_dump()
        for default in default_examples()
        if default.status_code == example.status_code and default.code == example.code
    ]
    for name, shown in list(examples.items()):
        if shown["value"] in defaults:
            del examples[name]
            examples.update(example_objects([example]))
            return
