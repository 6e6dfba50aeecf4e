"""The records phase's servers, each a child process announcing itself with one JSON line.

`python -m benchmarks.records_floor api <config.json>`: the real docflow API app (records and
portal routes, no Temporal: those routes never need it) over the phase's RecordStore and
document store, plus the floor: `GET /bench/records-floor/{key}`, one primary-key SELECT on
the same database through the same engine and thread offload, no auth, no filters, no paging,
served by the same uvicorn in the same process, so the two differ by docflow's records code.

`python -m benchmarks.records_floor static <dir>`: a bare Starlette `StaticFiles` app on the
same uvicorn, serving the portal's files from disk (the content download's floor).

Both run until their stdin closes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from docflow.docstore import LocalDocumentStore
from docflow.records.schema import processes
from docflow.records.store import RecordStore
from docflow.settings import Settings
from simulators.kit.server import ServedApp
from starter.api.app import create_app
from starter.api.records_store import get_store

READY_MARKER = "DOCFLOW-BENCH-RECORDS "
FLOOR_PATH = "/bench/records-floor"
router = APIRouter(tags=["benchmarks"], include_in_schema=False)


def _select_one(store: RecordStore, key: str) -> dict[str, Any] | None:
    with store.engine.connect() as connection:
        row = connection.execute(select(processes).where(processes.c.process_key == key)).first()
    return None if row is None else {k: str(v) for k, v in row._mapping.items()}


@router.get(FLOOR_PATH + "/{key}")
async def records_floor(key: str, request: Request) -> JSONResponse:
    """One indexed primary-key SELECT, answered as JSON."""
    store = get_store(request)
    row = await asyncio.to_thread(_select_one, store, key)
    return JSONResponse(row, status_code=200 if row is not None else 404)


async def _temporal_not_used() -> Any:
    raise RuntimeError("the records benchmark serves no Temporal routes")


def api_settings(config: dict[str, Any]) -> Settings:
    """The benchmark's settings: its data directory, records database and API keys."""
    data_dir = Path(config["data_dir"])
    return Settings().with_overrides(
        data_dir=str(data_dir),
        documents={"root": str(data_dir / "documents")},
        records={"url": config["records_url"], "pool_size": 20},
        api={"api_keys": config["api_keys"]},
    )


async def _wait_stdin_closed() -> None:
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


async def _serve(app: Any, name: str) -> None:
    async with ServedApp(app, port=0, name=name) as served:
        info = {"url": served.base_url, "pid": os.getpid()}
        print(READY_MARKER + json.dumps(info), flush=True)
        await _wait_stdin_closed()


async def serve_api(config: dict[str, Any]) -> None:
    settings = api_settings(config)
    store = RecordStore(config["records_url"], pool_size=20)
    app = create_app(settings, _temporal_not_used, LocalDocumentStore(settings.documents.root))
    app.state.records_store = store
    app.include_router(router)
    try:
        await _serve(app, "docflow API (records bench)")
    finally:
        store.close()


async def serve_static(directory: Path) -> None:
    app = Starlette(routes=[Mount("/static", app=StaticFiles(directory=directory))])
    await _serve(app, "static files")


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    mode, arg = sys.argv[1], sys.argv[2]
    if mode == "api":
        asyncio.run(serve_api(json.loads(Path(arg).read_text())))
    elif mode == "static":
        asyncio.run(serve_static(Path(arg)))
    else:
        raise SystemExit(f"unknown mode {mode!r} (api, static)")


if __name__ == "__main__":
    main()
