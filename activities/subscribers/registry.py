"""The ECM event subscriptions of the current bundle: subscription -> endpoint, secret
reference, schedule, rate limit. `settings.ecm_events.endpoints` may move an endpoint (the dev
stack's free ports) but never outside its allowed hosts."""

from __future__ import annotations

from dataclasses import dataclass

from docflow.config.bundle import bundle_reader
from docflow.config.ecm_events import EcmEvents
from docflow.config.source_systems import EndpointNotAllowed, endpoint_problem
from docflow.settings import Settings


class SubscriptionNotFound(LookupError):
    """The message names a subscription this environment's bundle does not have."""


@dataclass(frozen=True)
class Subscriber:
    name: str
    url: str
    secret: str
    retry_schedule_s: tuple[float, ...]
    jitter: float
    rate_limit_per_s: float
    timeout_s: float
    disable_after_s: float
    config_version: str


class SubscriberRegistry:
    def __init__(self, settings: Settings) -> None:
        self._config = bundle_reader(settings)
        self._overrides = dict(settings.ecm_events.endpoints)

    async def config(self) -> EcmEvents:
        return (await self._config.current()).get(EcmEvents)

    async def subscriber(self, name: str) -> Subscriber:
        """Raises SubscriptionNotFound, EndpointNotAllowed, or BundleError (bad files)."""
        events = await self.config()
        entry = events.subscriptions.get(name)
        if entry is None:
            raise SubscriptionNotFound(
                f"subscription {name!r} is not in {events.environment}'s ecm-events.json "
                f"({events.version})"
            )
        url = self._overrides.get(name, entry.endpoint)
        if problem := endpoint_problem(url, entry.allowed_hosts):
            raise EndpointNotAllowed(f"subscription {name!r}: {problem}")
        return Subscriber(
            name=name,
            url=url,
            secret=entry.secret,
            retry_schedule_s=tuple(entry.retry_schedule_s),
            jitter=entry.jitter,
            rate_limit_per_s=entry.rate_limit_per_s,
            timeout_s=entry.timeout_s,
            disable_after_s=entry.disable_after_s,
            config_version=events.version,
        )
