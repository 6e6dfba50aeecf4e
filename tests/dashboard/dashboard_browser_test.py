"""The records dashboard in a real browser (Debian's chromium) over a seeded read model.

The real API on a free 127.0.0.1 port, the real RecordStore on SQLite; no Temporal needed.
`DOCFLOW_SCREENSHOT=1` also saves the full page to docs/dashboard.png.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect
from sqlalchemy.exc import OperationalError

from docflow.records.store import RecordStore
from tests.dashboard.conftest import UI_URL, Served, key
from tests.dashboard.seed import EXPECTED, changes

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():  # noqa: ASYNC240 (one stat, before the browser starts)
        pytest.fail(
            f"{CHROMIUM} is missing: the dashboard tests need Debian's chromium "
            "(apt-get update && apt-get install -y chromium)"
        )
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1366, "height": 900})
    opened = await context.new_page()
    problems: list[str] = []
    opened.on("pageerror", lambda error: problems.append(str(error)))
    yield opened
    await context.close()
    assert not problems, problems


async def sign_in(page: Page, served: Served, secret: str) -> None:
    await page.goto(f"{served.base_url}/dashboard")
    await page.get_by_label("API key or bearer token").fill(secret)
    await page.get_by_role("button", name="Show the dashboard").click()


async def text(page: Page, selector: str) -> str:
    return (await page.locator(selector).text_content() or "").strip()


async def bar(page: Page, chart: str, category: str, series: str | None = None) -> str | None:
    selector = f'svg[data-chart="{chart}"] rect[data-category="{category}"]'
    if series:
        selector += f'[data-series="{series}"]'
    return await page.locator(selector).get_attribute("data-value")


async def row(page: Page, table: str, header: str) -> list[str]:
    cells = page.locator(f"#{table} tbody tr", has=page.locator("th", has_text=header))
    return [c.strip() for c in await cells.locator("th, td").all_text_contents()]


async def test_the_dashboard_shows_the_seeded_figures(page: Page, served: Served) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    response = await page.goto(f"{served.base_url}/dashboard")
    assert response is not None and response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert await page.locator("#login").is_visible()
    await sign_in(page, served, key("records"))
    await page.wait_for_selector("#compliance-table")

    assert (await text(page, "#last-updated")).startswith("Last updated")
    assert await page.locator("#empty").is_hidden()
    assert await page.locator("#error-banner").is_hidden()

    # Processes by state: a stacked bar per type, the same numbers in the fallback table.
    for process_type, state, count in EXPECTED.by_state:
        assert await bar(page, "by-state", process_type, state) == str(count)
    headers = await page.locator("#by-state-table thead th").all_text_contents()
    signing = dict(zip(headers, await row(page, "by-state-table", "signing"), strict=True))
    assert signing["completed"] == "10" and signing["awaiting_approval"] == "6"
    assert signing["Total"] == "21"

    # Approvals past deadline: the count, the oldest first, linked to the Temporal Web UI.
    assert await text(page, "#overdue-count") == str(EXPECTED.overdue)
    first = page.locator("#overdue-rows tbody tr").first.locator("a")
    assert await first.text_content() == EXPECTED.oldest_overdue
    assert await first.get_attribute("href") == (
        f"{UI_URL}/namespaces/default/workflows/signing-{EXPECTED.oldest_overdue}"
    )
    assert await page.locator("#overdue-rows tbody tr").count() == EXPECTED.overdue

    # Ages of open processes, turnaround, delivery failures, holds.
    assert await bar(page, "ages", "case", "< 1 hour") == str(EXPECTED.open_case_ages_under_1h)
    assert await text(page, "#turnaround-p50") == "10.0 h"
    assert await text(page, "#turnaround-p90") == "18.0 h"
    assert await text(page, "#turnaround-completed") == str(EXPECTED.signings_completed)
    assert await page.locator('svg[data-chart="turnaround-days"] rect').count() == 5
    for target, count in EXPECTED.failures:
        assert await bar(page, "failures", target) == str(count)
    assert await row(page, "failures-table", "sap") == ["sap", "3", "3"]
    assert await text(page, "#holds-count") == str(EXPECTED.holds)
    for workspace, count in EXPECTED.holds_by_workspace:
        assert await bar(page, "holds", f"Workspace {workspace}") == str(count)

    # Compliance per workspace.
    processes, open_, attention = EXPECTED.workspace_101
    ws101 = await row(page, "compliance-table", "Workspace 101")
    assert ws101[:5] == ["Workspace 101", str(processes), str(open_), str(attention), "0"]
    ws102 = await row(page, "compliance-table", "Workspace 102")
    assert ws102[4] == str(EXPECTED.workspace_102_approved)
    assert ws102[6] == str(EXPECTED.workspace_102_disposing)

    # Charts are images with a text alternative; tables are there for every chart.
    label = await page.locator('svg[data-chart="failures"]').get_attribute("aria-label")
    assert label is not None and "sap: 3" in label
    assert await page.locator("details.fallback").count() == 5

    # Everything came from docflow itself: no CDN, no other host.
    assert requested and all(url.startswith((served.base_url, "data:")) for url in requested)
    assert f"{served.base_url}/dashboard/static/charts.js" in requested

    # The key stays for the tab: a reload shows the figures without asking again.
    await page.reload()
    await page.wait_for_selector("#compliance-table")
    assert await page.locator("#login").is_hidden()

    if os.environ.get("DOCFLOW_SCREENSHOT"):
        SCREENSHOT.parent.mkdir(exist_ok=True)
        await page.screenshot(path=str(SCREENSHOT), full_page=True)


async def test_filters_change_the_figures(page: Page, served: Served) -> None:
    await sign_in(page, served, key("records"))
    await page.wait_for_selector("#compliance-table")
    assert await text(page, "#overdue-count") == str(EXPECTED.overdue)

    await page.get_by_label("Process type", exact=True).select_option("case")
    await expect(page.locator("#overdue-count")).to_have_text("0")
    signing = page.locator('svg[data-chart="by-state"] rect[data-category="signing"]')
    await expect(signing).to_have_count(0)
    assert await bar(page, "by-state", "case", "assembling") == "5"
    assert "No approval is past its deadline" in await text(page, "#overdue-table")

    # The CSV export carries the same filters (and the key, fetched as a blob).
    async with page.expect_download() as downloading:
        await page.get_by_role("button", name="Export CSV").click()
    download = await downloading.value
    assert download.suggested_filename.startswith("docflow-processes-")
    assert download.suggested_filename.endswith(".csv")
    exported = await download.path()
    lines = exported.read_text().strip().splitlines()
    assert "process_type" in lines[0]
    assert len(lines) == 1 + 8 and all(",case," in line for line in lines[1:])

    await page.get_by_label("Outcome", exact=True).select_option("open")
    completed = page.locator('svg[data-chart="by-state"] rect[data-series="completed"]')
    await expect(completed).to_have_count(0)
    assert await bar(page, "by-state", "case", "assembling") == "5"

    # Nothing matches: the empty state.
    await page.get_by_label("Process type", exact=True).select_option("")
    await page.get_by_label("Outcome", exact=True).select_option("")
    await page.get_by_label("Source system", exact=True).fill("NOWHERE")
    await page.get_by_role("button", name="Apply").click()
    await page.wait_for_selector("#empty:not([hidden])")
    assert "No processes yet" in await text(page, "#empty")

    # A workspace row filters the dashboard to that workspace.
    await page.get_by_role("button", name="Clear").click()
    await expect(page.locator("#overdue-count")).to_have_text(str(EXPECTED.overdue))
    await page.get_by_role("button", name="Workspace 103").click()
    await expect(page.locator("#overdue-count")).to_have_text("0")
    assert await text(page, "#workspace-filter-id") == "103"
    assert await page.locator("#workspace-panel").is_visible()
    # The workspace's record opens below: its processes, linked to the Temporal Web UI.
    await expect(page.locator("#workspace-processes tbody tr")).to_have_count(3)
    assert "workspace_sync" in await text(page, "#workspace-processes")
    await expect(page.locator("#compliance-table tbody tr")).to_have_count(1)


async def test_a_wrong_key_shows_the_error_banner(page: Page, served: Served) -> None:
    await sign_in(page, served, "not-a-key")
    banner = page.locator("#error-banner")
    await banner.wait_for(state="visible")
    assert await banner.get_attribute("data-status") == "401"
    assert "401" in await text(page, "#error-title")
    assert await page.get_by_role("button", name="Enter another key").is_visible()

    # A key without records:read: 403, then a good key clears the banner.
    await page.get_by_role("button", name="Enter another key").click()
    await page.get_by_label("API key or bearer token").fill(key("crm"))
    await page.get_by_role("button", name="Show the dashboard").click()
    await page.wait_for_selector('#error-banner[data-status="403"]')
    assert "records:read" in await text(page, "#error-title")

    await page.get_by_role("button", name="Enter another key").click()
    await page.get_by_label("API key or bearer token").fill(key("records"))
    await page.get_by_role("button", name="Show the dashboard").click()
    await page.wait_for_selector("#compliance-table")
    assert await banner.is_hidden()


async def test_the_figures_refresh_every_30_seconds(
    page: Page, served: Served, records: RecordStore
) -> None:
    await page.clock.install()
    await sign_in(page, served, key("records"))
    await page.wait_for_selector("#compliance-table")
    assert await text(page, "#overdue-count") == str(EXPECTED.overdue)
    assert "next refresh in 30 s" in await text(page, "#refresh-note")
    first = await page.locator("#last-updated").get_attribute("data-at")
    await page.locator("#failures summary").click()
    assert await page.locator("#failures-table").is_visible()

    # One more approval past its deadline arrives; the page shows it at the next refresh.
    overdue = changes(datetime.now(UTC))[0]
    records.apply(overdue.model_copy(update={"process_key": "late", "business_key": "LATE-1"}))
    await page.clock.run_for(29_000)
    assert await text(page, "#overdue-count") == str(EXPECTED.overdue)
    await page.clock.run_for(1_500)
    await expect(page.locator("#overdue-count")).to_have_text(str(EXPECTED.overdue + 1))
    assert await page.locator("#last-updated").get_attribute("data-at") != first
    # A table the reader opened stays open across the refresh.
    assert await page.locator("#failures-table").is_visible()


async def test_an_unavailable_database_shows_the_banner_until_it_is_back(
    page: Page, served: Served, records: RecordStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*_: object, **__: object) -> None:
        raise OperationalError("SELECT", {}, Exception("database is locked"))

    monkeypatch.setattr(records, "figures", down)
    await page.clock.install()
    await sign_in(page, served, key("records"))
    banner = page.locator("#error-banner")
    await expect(banner).to_have_attribute("data-status", "503")
    assert "could not compute" in await text(page, "#error-title")
    assert "Retrying" in await text(page, "#error-message")
    assert await page.get_by_role("button", name="Enter another key").is_hidden()

    monkeypatch.undo()
    await page.clock.run_for(30_500)
    await expect(banner).to_be_hidden()
    assert await text(page, "#overdue-count") == str(EXPECTED.overdue)
