"""A handle on one running simulator for the activity tests: URL, state, control API."""

from __future__ import annotations

from typing import Any

import httpx

from simulators.kit.server import ServedApp


class Sim:
    """A running simulator: its base URL, its in-process state, and its control API."""

    def __init__(self, served: ServedApp, http: httpx.AsyncClient) -> None:
        self.served = served
        self.url = served.base_url
        self.state: Any = served.app.state.sim
        self._http = http

    async def control(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._http.request(method, f"{self.url}/_control{path}", **kwargs)
        response.raise_for_status()
        return response.json()

    async def fail_next(
        self, status: int, *, count: int = 1, retry_after_s: int | None = None, match: str = ""
    ) -> None:
        fail = {"count": count, "status": status, "retry_after_s": retry_after_s}
        if match:
            fail["match"] = match
        await self.control("PUT", "/faults", json={"fail_next": fail})
