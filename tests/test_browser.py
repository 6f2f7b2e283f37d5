"""The Voilà dashboard in a real browser: Debian's Chromium, headless, driven by Playwright for Python.

Starts Voilà on a free loopback port, changes the device, the area, the plan and setup, and the days, and
checks that the answer cards (``data-decision`` / ``data-code`` attributes of explain's HTML) change to the
page's answers. Saves a screenshot to ``artifacts/browser-dashboard.png``. Run with ``pytest -m browser``.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import CHROMIUM, CHROMIUM_ARGS, free_port, skip_without_chromium

pytestmark = pytest.mark.browser

PROJECT = Path(__file__).resolve().parent.parent
ARTIFACTS = PROJECT / "artifacts"
DASHBOARD = PROJECT / "notebooks" / "dashboard.ipynb"
WAIT_MS = 20_000
SCOPE = ".sp-dashboard-explorer"  # the explorer tab (the audit tab holds a second explorer)

sync_api = skip_without_chromium()


def wait_listening(port: int, proc: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"voila exited with status {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"voila did not listen on 127.0.0.1:{port} within {seconds} s")


@pytest.fixture(scope="module")
def voila_url() -> Iterator[str]:
    ARTIFACTS.mkdir(exist_ok=True)
    port = free_port()
    log = (ARTIFACTS / "voila.log").open("w")
    cmd = [
        sys.executable,
        "-m",
        "voila",
        str(DASHBOARD),
        "--no-browser",
        "--Voila.ip=127.0.0.1",
        f"--port={port}",
        "--Voila.port_retries=0",
        "--VoilaExecutor.timeout=60",
    ]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT, env=env)
    try:
        wait_listening(port, proc, 60)
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def page(voila_url: str):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 2000})
            page.set_default_timeout(WAIT_MS)
            page.route("https://cdn.jsdelivr.net/**", lambda route: route.abort())
            page.goto(voila_url, timeout=60_000)
            page.locator(f"{SCOPE} .sp-answers [data-decision='device_action']").wait_for(timeout=60_000)
            yield page
        finally:
            browser.close()


def card(page, decision: str):
    return page.locator(f"{SCOPE} .sp-answers [data-decision='{decision}']")


def expect_code(page, decision: str, code: str) -> None:
    sync_api.expect(card(page, decision)).to_have_attribute("data-code", code, timeout=WAIT_MS)


def choose(page, control: str, label: str) -> None:
    page.locator(f"{SCOPE} .{control} select").select_option(label=label)


def type_into(page, control: str, text: str) -> None:
    box = page.locator(f"{SCOPE} .{control} input")
    box.fill(text)
    box.press("Enter")


def other_plan_own_v6plus(page) -> None:
    """Another plan than 10ギガ or S/M/L, an own v6プラス router, and a day count (its "empty" box cleared)."""
    choose(page, "sp-plan", "other · every other So-net 光 plan")
    choose(page, "sp-setup", "v6plus_router · own v6プラス router beside the NTT device")
    page.locator(f"{SCOPE} .sp-days-empty input[type='checkbox']").uncheck()


def type_keys(page, control: str, text: str) -> None:
    """Type into a box key by key, without Enter and without leaving it."""
    box = page.locator(f"{SCOPE} .{control} input")
    box.fill("")
    box.press_sequentially(text)


def test_cards_follow_the_controls(page) -> None:
    # The dashboard opens on an east PR-600KI that keeps its 1 Giga wireless LAN line (※1: keeps working).
    expect_code(page, "device_action", "keeps_working")
    expect_code(page, "procedure", "port_out")

    # Device typed in lower case without the hyphen: east exchanges PR-200NE at a technician visit.
    type_into(page, "sp-device", "pr200ne")
    expect_code(page, "device_action", "onsite_exchange")

    # Same device in the west: exchanged by mail.
    choose(page, "sp-area", "west · NTT西日本")
    expect_code(page, "device_action", "mail_exchange")

    # Other plan with an own v6プラス router; the phone stopped 31 days ago, then 32.
    other_plan_own_v6plus(page)
    type_into(page, "sp-days", "31")
    expect_code(page, "ipv4", "pppoe_router")
    type_keys(page, "sp-days", "32")  # the cards follow the keys: no Enter needed
    expect_code(page, "ipv4", "reapply_v6plus")
    type_keys(page, "sp-days", "31")
    expect_code(page, "ipv4", "pppoe_router")
    type_into(page, "sp-days", "32")
    expect_code(page, "ipv4", "reapply_v6plus")
    expect_code(page, "device_action", "mail_exchange")
    # The Japanese clause text travels with the answer.
    sync_api.expect(card(page, "ipv4")).to_contain_text("v6プラス")
    page.screenshot(path=str(ARTIFACTS / "browser-dashboard.png"), full_page=True)


def test_unknown_device_says_why(page) -> None:
    type_into(page, "sp-device", "PR-700KI")
    # each decision on its own: the three that read the device say why, procedure and number are answered
    invalid = card(page, "ipv4")
    sync_api.expect(invalid).to_have_attribute("data-code", "invalid", timeout=WAIT_MS)
    sync_api.expect(invalid).to_contain_text("nearest: PR-600KI")
    sync_api.expect(card(page, "device_action")).to_have_attribute("data-code", "invalid")
    sync_api.expect(card(page, "procedure")).not_to_have_attribute("data-code", "invalid")
    page.screenshot(path=str(ARTIFACTS / "browser-dashboard-invalid.png"), full_page=True)


def test_audit_tab_shows_the_heat_map_and_a_findings_witness(page) -> None:
    page.get_by_role("tab", name="Coverage audit").click()
    audit = page.locator(".sp-audit")
    cells = audit.locator(".sp-heatmap .sp-hm-cell")
    sync_api.expect(cells.first).to_be_visible(timeout=WAIT_MS)
    sync_api.expect(audit.locator("table").first).to_contain_text("conflict")
    # the clickable heat map: a cell click opens the pair's findings and the pair picker follows
    cell = audit.locator(".sp-hm-cell[data-row='west'][data-column='RS-500MI']").last
    cell.click()
    sync_api.expect(audit.locator(".sp-pair")).to_contain_text("area=west, device=RS-500MI:", timeout=WAIT_MS)
    picker = audit.locator(".sp-audit-pair select")
    chosen = picker.evaluate("s => s.options[s.selectedIndex].text").replace("\xa0", " ")
    assert chosen.startswith("west × RS-500MI:"), chosen
    decisions = audit.locator(".sp-hm-decision.sp-hm-first").count()
    sync_api.expect(audit.locator(".sp-hm-cell.sp-hm-on")).to_have_count(decisions)  # the pair, in each decision
    finding = audit.locator(".sp-audit-finding select")
    # ipywidgets writes option labels with no-break spaces
    options = finding.locator("option").all_text_contents()
    label = next(t for t in options if "gap · device_action" in t.replace("\xa0", " "))
    finding.select_option(label=label)
    witness = audit.locator(".sp-answers [data-decision='device_action']")
    sync_api.expect(witness).to_have_attribute("data-code", "uncovered", timeout=WAIT_MS)
    page.screenshot(path=str(ARTIFACTS / "browser-audit.png"), full_page=True)


def explorer_tab(page) -> None:
    page.get_by_role("tab", name="Scenario explorer").click()


def test_device_box_follows_every_keystroke_without_enter(page) -> None:
    """Item 8 of issue 15: typed characters apply at once; while the text names no device the card says so."""
    explorer_tab(page)
    choose(page, "sp-area", "east · NTT東日本")
    box = page.locator(f"{SCOPE} .sp-device input")
    box.fill("")
    box.press_sequentially("pr2", delay=60)  # no Enter, no Tab
    invalid = card(page, "device_action")
    sync_api.expect(invalid).to_have_attribute("data-code", "invalid", timeout=WAIT_MS)
    sync_api.expect(invalid).to_contain_text("pr2")
    box.press_sequentially("00ne", delay=60)
    expect_code(page, "device_action", "onsite_exchange")  # east PR-200NE: exchanged at a visit
    box.press("Backspace")  # "pr200n": names nothing again, no stale answer
    expect_code(page, "device_action", "invalid")
    box.press_sequentially("e", delay=60)
    expect_code(page, "device_action", "onsite_exchange")
    page.screenshot(path=str(ARTIFACTS / "browser-keystrokes.png"), full_page=True)


WEST_V6PLUS_31 = "area=west&plan=other&device=RV-230SE&setup=v6plus_router&keep_number=false&days_since_phone_stop=31"


def open_query(page, voila_url: str, query: str) -> None:
    """Open the dashboard at ``?query`` (a shared link) and wait for its cards."""
    page.goto(f"{voila_url}?{query}", timeout=60_000)
    card(page, "device_action").wait_for(timeout=60_000)


def query_of(page) -> dict[str, str]:
    from urllib.parse import parse_qsl, urlsplit

    return dict(parse_qsl(urlsplit(page.url).query, keep_blank_values=True))


def test_the_url_holds_the_scenario_and_a_reload_keeps_it(page, voila_url: str) -> None:
    explorer_tab(page)
    choose(page, "sp-area", "west · NTT西日本")
    type_into(page, "sp-device", "rv230se")
    other_plan_own_v6plus(page)
    type_into(page, "sp-days", "32")
    expect_code(page, "ipv4", "reapply_v6plus")
    # each change writes the address once it reached the kernel: wait for the last two (device, then days)
    sync_api.expect(page).to_have_url(re.compile(r"device=rv230se.*days_since_phone_stop=32"), timeout=WAIT_MS)
    query = query_of(page)
    assert query["area"] == "west" and query["plan"] == "other" and query["setup"] == "v6plus_router"
    assert query["device"] == "rv230se"
    codes = card_codes(page)
    page.reload(timeout=60_000)
    card(page, "device_action").wait_for(timeout=60_000)
    expect_code(page, "ipv4", "reapply_v6plus")
    sync_api.expect(page.locator(f"{SCOPE} .sp-area select")).to_have_value(re.compile(".+"))
    assert card_codes(page) == codes
    after = query_of(page)
    assert after.pop("device") == "RV-230SE"  # the URL now holds the catalogue's spelling
    assert after == {k: v for k, v in query.items() if k != "device"}


def test_a_shared_url_opens_its_scenario_and_a_bad_value_is_one_line(page, voila_url: str) -> None:
    open_query(page, voila_url, WEST_V6PLUS_31)
    expect_code(page, "ipv4", "pppoe_router")
    expect_code(page, "device_action", "mail_exchange")
    expect_code(page, "procedure", "support_desk")
    # an interview: the plan unknown in the URL, ask next shown
    open_query(page, voila_url, WEST_V6PLUS_31.replace("plan=other", "plan=%3F"))
    expect_code(page, "ipv4", "open")
    sync_api.expect(page.locator(f"{SCOPE} .sp-ask-next-box")).to_have_attribute("data-ask", "plan")
    sync_api.expect(page.locator(f"{SCOPE} .sp-plan.sp-ask-next select")).to_have_count(1)  # highlighted
    page.screenshot(path=str(ARTIFACTS / "browser-interview.png"), full_page=True)
    page.locator(f"{SCOPE} .sp-ask-next-go button, {SCOPE} button.sp-ask-next-go").first.click()
    page.wait_for_function("document.activeElement && document.activeElement.closest('.sp-plan') !== null")
    choose(page, "sp-plan", "other · every other So-net 光 plan")  # the answer settles ipv4
    expect_code(page, "ipv4", "pppoe_router")
    sync_api.expect(page.locator(f"{SCOPE} .sp-ask-next-box")).to_have_count(0)
    sync_api.expect(page).to_have_url(re.compile(r"plan=other"), timeout=WAIT_MS)
    open_query(page, voila_url, "area=north&days_since_phone_stop=abc")
    problems = page.locator(".sp-url-problem")
    sync_api.expect(problems).to_have_count(2, timeout=WAIT_MS)
    sync_api.expect(problems.first).to_contain_text("area")
    expect_code(page, "device_action", "keeps_working")  # the default scenario
    assert page.locator(".sp-error").count() == 0


def test_compare_tab_shows_day_31_and_32_side_by_side(page, voila_url: str) -> None:
    open_query(page, voila_url, WEST_V6PLUS_31)
    page.get_by_role("tab", name="Compare 比較").click()
    ipv4 = page.locator(".sp-compare-view [data-compare-decision='ipv4']")
    sync_api.expect(ipv4).to_have_attribute("data-differs", "true", timeout=WAIT_MS)
    sync_api.expect(ipv4.locator("td").nth(1)).to_have_text("pppoe_router")
    sync_api.expect(ipv4.locator("td").nth(2)).to_have_text("reapply_v6plus")
    wifi = page.locator(".sp-compare-view [data-compare-decision='wifi']")
    sync_api.expect(wifi).to_have_attribute("data-differs", "false")
    sync_api.expect(page.locator(".sp-compare-view .sp-compare-why")).to_contain_text("V4-OTH-V6-32")
    page.screenshot(path=str(ARTIFACTS / "browser-compare.png"), full_page=True)
    # the comparison is kept in the address: other values, a reload, the same comparison
    values = page.locator(".sp-compare-values input")
    values.fill("31, 60")
    values.press("Enter")
    sync_api.expect(page).to_have_url(re.compile(r"compare=days_since_phone_stop&compare_values=31%2C\+60"))
    page.reload(timeout=60_000)
    card(page, "device_action").wait_for(timeout=60_000)
    page.get_by_role("tab", name="Compare 比較").click()
    sync_api.expect(page.locator(".sp-compare-values input")).to_have_value("31, 60", timeout=WAIT_MS)
    sync_api.expect(ipv4.locator("td").nth(2)).to_have_text("reapply_v6plus")


def card_codes(page) -> dict[str, str]:
    return dict(
        page.locator(f"{SCOPE} .sp-answers [data-decision]").evaluate_all(
            "els => els.map(e => [e.dataset.decision, e.dataset.code])"
        )
    )
