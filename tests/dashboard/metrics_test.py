"""/metrics: the dashboard's figures as Prometheus gauges, over every record, cached briefly."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.exc import OperationalError

from docflow.models.records import DashboardFigures, RecordQuery
from docflow.records.store import RecordStore
from starter.api.routes.dashboard import UNRESTRICTED, FiguresCache, exposition
from tests.dashboard.seed import EXPECTED, changes


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_show_the_seeded_figures_without_credentials(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)

    processes = {
        (labels[0][1], labels[1][1]): value
        for (name, labels), value in samples.items()
        if name == "docflow_processes"
    }
    assert processes == {(t, s): n for t, s, n in EXPECTED.by_state}
    assert samples[("docflow_approvals_overdue", ())] == EXPECTED.overdue
    for target, count in EXPECTED.failures:
        assert samples[("docflow_delivery_failures", (("target", target),))] == count
    assert samples[("docflow_retention_holds_active", ())] == EXPECTED.holds
    assert samples[("docflow_signature_turnaround_hours", (("quantile", "0.5"),))] == 10.0
    assert samples[("docflow_signature_turnaround_hours", (("quantile", "0.9"),))] == 18.0
    bucket = ("docflow_open_process_age_bucket", (("bucket", "under_1h"), ("process_type", "case")))
    assert samples[bucket] == EXPECTED.open_case_ages_under_1h
    open_total = sum(v for (n, _), v in samples.items() if n == "docflow_open_process_age_bucket")
    assert open_total == 5 + 9 + 8  # open cases, signings, workspace syncs
    assert 0 <= samples[("docflow_records_figures_seconds", ())] < 5
    # Aggregates only: no business key, workspace or person appears.
    assert "Q-OVERDUE" not in response.text and "alice@" not in response.text


async def test_metrics_are_cached_for_a_few_seconds(
    client: httpx.AsyncClient, records: RecordStore
) -> None:
    first = await client.get("/metrics")
    assert first.status_code == 200
    # One more overdue approval, written after the scrape: a scrape within the TTL is the
    # cached one, so it does not count yet.
    overdue = changes(datetime.now(UTC))[0]
    records.apply(overdue.model_copy(update={"process_key": "extra", "business_key": "EXTRA"}))
    second = await client.get("/metrics")
    assert _samples(second.text)[("docflow_approvals_overdue", ())] == EXPECTED.overdue


async def test_the_cache_recomputes_after_its_ttl(records: RecordStore) -> None:
    clock = [0.0]
    computed = 0

    async def compute() -> DashboardFigures:
        nonlocal computed
        computed += 1
        return records.figures(RecordQuery(), UNRESTRICTED, now=datetime.now(UTC))

    cache = FiguresCache(compute, ttl=5.0, clock=lambda: clock[0])
    assert (await cache.get())[0].approvals_overdue == EXPECTED.overdue
    overdue = changes(datetime.now(UTC))[0]
    records.apply(overdue.model_copy(update={"process_key": "extra", "business_key": "EXTRA"}))
    clock[0] = 4.9
    assert (await cache.get())[0].approvals_overdue == EXPECTED.overdue
    assert computed == 1
    clock[0] = 5.0
    figures, seconds = await cache.get()
    assert computed == 2 and seconds >= 0
    assert figures.approvals_overdue == EXPECTED.overdue + 1
    text = exposition(figures, seconds).decode()
    assert "# TYPE docflow_processes gauge" in text
    assert "docflow_approvals_overdue 5.0" in text


async def test_metrics_answer_503_while_the_database_is_down(
    client: httpx.AsyncClient, records: RecordStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*_: object, **__: object) -> None:
        raise OperationalError("SELECT", {}, Exception("database is locked"))

    monkeypatch.setattr(records, "figures", down)
    response = await client.get("/metrics")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "records_unavailable"
