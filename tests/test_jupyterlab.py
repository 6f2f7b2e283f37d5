"""JupyterLab itself, in Debian's Chromium (headless, Playwright): the notebooks survive a person's day.

The sequence of issue 15, on a temporary copy of ``notebooks/`` (the committed files are never opened):

1. one JupyterLab server with the repository's settings (``JUPYTER_CONFIG_PATH=jupyter/``, as ``make lab``);
   each notebook is opened and must not be marked modified (its kernelspec and language_info are what
   JupyterLab writes); Run All; no widget shows "Error displaying widget", no cell shows a traceback, no app
   shows an error; saved.
2. the server stops; a fresh one starts (the next day: nothing run) and each notebook is reopened: again not
   modified, and no "Error displaying widget" anywhere: each app's plain-text summary shows instead.
3. the saved files hold no widget views and no widget state, and stay near the committed size.

A scratch notebook (``tools.ipynb``, in the temporary folder) shows the tools the apps will use: a grid is sorted
by a header click and searched, both download links are clicked and the files read back with pandas, the
customer message's copy button fills the clipboard; the same in Voilà with the CDN blocked (offline).

The browser console must not warn about an unsatisfied shared-module version. Screenshots go to
``artifacts/jupyterlab-<notebook>-ran.png`` and ``-reopened.png``; the timings of each phase to
``artifacts/jupyterlab-timings.txt``. Run with ``pytest -m browser tests/test_jupyterlab.py``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from sonet_policy.files.notebooks import WIDGET_VIEW
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, free_port, skip_without_chromium

pytestmark = pytest.mark.browser

PROJECT = Path(__file__).resolve().parent.parent
ARTIFACTS = PROJECT / "artifacts"
NOTEBOOKS = sorted((PROJECT / "notebooks").glob("*.ipynb"))
RUN_SECONDS = 240  # Run All of the slowest notebook takes about 20 s here
# JupyterLab settings for the test browser only: no news pop-up over the screenshots, and every cell rendered
# (JupyterLab 4 renders only the cells in view by default, so an error further down would go unseen).
TEST_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}

# The analyst's tools of issue 15 in one scratch notebook (written into the temporary folder only): a grid, the
# download links and the customer message. Run All in JupyterLab, then sorted, searched, downloaded, copied.
TOOLS_NOTEBOOK = "tools.ipynb"
TOOLS_CELLS = [
    "from sonet_policy import explain\n"
    "from sonet_policy.analysis.audit import audit\n"
    "from sonet_policy.widgets.downloads import download_links\n"
    "from sonet_policy.widgets.message import show_message\n"
    "from sonet_policy.widgets.tables import grid\n"
    "findings = audit()",
    'grid(findings[["kind", "decision", "scope", "message"]], caption="findings")',
    'download_links({"findings": findings, "kinds": findings["kind"].value_counts().reset_index()}, stem="audit")',
    'show_message(area="west", plan="other", device="RV-230SE", setup="v6plus_router", keep_number=False, days=31)',
]

sync_api = skip_without_chromium()


@contextmanager
def jupyter_lab(home: Path, root: Path, log_name: str) -> Iterator[str]:
    """A JupyterLab server on a free loopback port serving ``root``, with the repository's ``jupyter/`` config
    and every other Jupyter folder inside ``home`` (nothing of the user's own ~/.jupyter is read)."""
    port = free_port()
    env = {
        **os.environ,
        "MPLBACKEND": "Agg",
        "JUPYTER_CONFIG_PATH": str(PROJECT / "jupyter"),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTER_PLATFORM_DIRS": "1",
    }
    cmd = [
        str(Path(sys.executable).parent / "jupyter"),
        "lab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={home / 'settings'}",
        f"--LabApp.workspaces_dir={home / 'workspaces'}",
        "--LabApp.news_url=",
    ]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    with (ARTIFACTS / log_name).open("w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=root, env=env)
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"jupyter lab exited with status {proc.returncode}; see artifacts/{log_name}")
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"jupyter lab did not listen on 127.0.0.1:{port} within 60 s")
                time.sleep(0.2)
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()  # the server shuts its kernels down on SIGTERM
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)


@contextmanager
def browser_page(console: list[str]):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
            context.grant_permissions(["clipboard-read", "clipboard-write"])
            page = context.new_page()
            page.set_default_timeout(30_000)
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            yield page
        finally:
            browser.close()


def open_notebook(page, base: str, name: str) -> None:
    """Open one notebook in a reset workspace and wait until its kernel is idle and its metadata updated."""
    page.goto(f"{base}/lab/tree/{name}?reset", timeout=60_000)
    page.locator(".jp-NotebookPanel .jp-Notebook").wait_for(timeout=60_000)
    indicator = page.locator(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator").first
    sync_api.expect(indicator).to_have_attribute("data-status", "idle", timeout=60_000)
    page.wait_for_timeout(2500)  # kernel_info's language_info can land after the first idle


def is_modified(page) -> bool:
    return page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty").count() > 0


def menu(page, top: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=top).first.click()
    page.locator(".lm-Menu-itemLabel", has_text=item).first.click()


def run_all(page) -> None:
    menu(page, "Run", "Run All Cells")
    prompts = page.locator(".jp-Notebook .jp-CodeCell .jp-InputPrompt")
    deadline = time.monotonic() + RUN_SECONDS
    while True:
        texts = prompts.all_inner_texts()
        done = texts and all(t.strip() not in ("[ ]:", "[*]:", "") for t in texts)
        if done:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"Run All did not finish within {RUN_SECONDS} s: prompts {texts}")
        page.wait_for_timeout(300)
    indicator = page.locator(".jp-NotebookPanel .jp-Notebook-ExecutionIndicator").first
    sync_api.expect(indicator).to_have_attribute("data-status", "idle", timeout=60_000)
    page.wait_for_timeout(1000)  # widget views render after the kernel's messages


def problems_shown(page) -> list[str]:
    """Widget errors, tracebacks and app errors visible in the notebook."""
    found = []
    for text in page.locator(".jp-Notebook .jp-OutputArea-output").all_inner_texts():
        if "Error displaying widget" in text:
            found.append(f"widget error: {text.strip()[:200]}")
        elif "Traceback" in text or "Error:" in text.split("\n", 1)[0]:
            found.append(f"cell error: {text.strip()[:200]}")
    found += [f"app error: {t[:200]}" for t in page.locator(".jp-Notebook .sp-error").all_inner_texts()]
    return found


def shoot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / name))


def write_tools_notebook(folder: Path) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in TOOLS_CELLS]
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nbformat.write(nb, folder / TOOLS_NOTEBOOK)


def downloaded(page, link) -> Path:
    with page.expect_download(timeout=30_000) as info:
        link.click()
    return Path(info.value.path())


def use_the_tools(page, scope: str) -> dict:
    """Sort and search the grid, download both files, copy the message; what was seen."""
    import pandas as pd

    seen: dict = {}
    table = page.locator(f"{scope} .sp-grid table.dataTable").first
    table.wait_for(timeout=60_000)
    first_kind = table.locator("tbody tr td:nth-child(1)")
    seen["kinds_before"] = first_kind.all_inner_texts()
    table.locator("thead th").nth(0).locator(".dt-column-title").click()  # sort by kind
    page.wait_for_timeout(500)
    seen["kinds_sorted"] = first_kind.all_inner_texts()
    search = page.locator(f"{scope} .sp-grid input[type='search']").first
    search.fill("conflict")
    page.wait_for_timeout(500)
    seen["kinds_searched"] = first_kind.all_inner_texts()
    seen["info_searched"] = page.locator(f"{scope} .sp-grid .dt-info").first.inner_text()
    seen["grid_align"] = table.locator("tbody td").first.evaluate("e => getComputedStyle(e).textAlign")
    seen["grid_white_space"] = table.locator("tbody td").first.evaluate("e => getComputedStyle(e).whiteSpace")
    csv_path = downloaded(page, page.locator(f"{scope} a.sp-download", has_text="audit-findings.csv"))
    seen["csv"] = pd.read_csv(csv_path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    seen["csv_bom"] = csv_path.read_bytes()[:3] == b"\xef\xbb\xbf"
    xlsx_path = downloaded(page, page.locator(f"{scope} a.sp-download", has_text="audit.xlsx"))
    seen["xlsx"] = pd.read_excel(xlsx_path, sheet_name=None, dtype=str)
    copy = page.locator(f"{scope} .sp-message button.sp-copy")
    if copy.count():
        copy.first.click()
        page.wait_for_timeout(300)
        seen["clipboard"] = page.evaluate("navigator.clipboard.readText()")
        seen["message_box"] = page.locator(f"{scope} .sp-message textarea").first.input_value()
    return seen


def interview_in_lab(page) -> dict:
    """Issue 15's interview on notebook 01's first explorer: make the number question unknown, read the answers
    still possible and the question to ask next, answer it, see the decision settle (what was seen)."""
    app = page.locator(".jp-Notebook .sp-explorer").first
    keep = app.locator(".sp-keep-number select")
    procedure = app.locator(".sp-answers [data-decision='procedure']")
    got: dict = {}
    keep.select_option(index=0)  # 「不明 / unknown」
    sync_api.expect(procedure).to_have_attribute("data-code", "open", timeout=30_000)
    got["open_answers"] = procedure.get_attribute("data-answers")
    ask = app.locator(".sp-ask-next-box")
    got["ask"] = ask.get_attribute("data-ask")
    got["ask_text"] = ask.inner_text()
    got["highlighted"] = app.locator(".sp-ask-next select").count()
    app.evaluate("e => e.scrollIntoView({block: 'start'})")
    shoot(page, "jupyterlab-interview.png")
    texts = [t.replace("\xa0", " ") for t in keep.locator("option").all_text_contents()]
    keep.select_option(index=next(i for i, t in enumerate(texts) if t.startswith("false")))
    sync_api.expect(procedure).not_to_have_attribute("data-code", "open", timeout=30_000)
    got["settled"] = procedure.get_attribute("data-code")
    got["ask_after"] = app.locator(".sp-ask-next-box").count()
    return got


# ------------------------------------------------- the committed notebooks' own apps, after Run All (issue 15)


def option_label(select, text: str) -> str:
    """The label of the option of ``select`` that reads ``text`` (ipywidgets writes no-break spaces)."""
    labels = select.locator("option").all_text_contents()
    return next(t for t in labels if t.replace("\xa0", " ") == text)


def upload_file(page, button, path: Path) -> None:
    """Choose ``path`` in a FileUpload as a person does: its button opens the file chooser (ipywidgets 8 keeps
    the <input type=file> out of the page, so the chooser is the way in)."""
    with page.expect_file_chooser(timeout=30_000) as chooser:
        button.click()
    chooser.value.set_files(str(path))


def grid_column(table, k: int) -> list[str]:
    return table.locator(f"tbody tr td:nth-child({k + 1})").all_inner_texts()


def audit_app(page, files: Path) -> dict:
    """02: sort the findings grid by a header click, open a pair's findings by clicking its cell on the heat map
    (the pair picker follows), pick another pair in the picker (the map outlines it), open the first pair again
    from the keyboard (Enter on a focused cell), download the findings and read them back."""
    import pandas as pd

    seen: dict = {}
    app = page.locator(".jp-Notebook .sp-audit").first
    table = app.locator(".sp-grid table.dataTable").first
    table.wait_for(timeout=60_000)
    headers = table.locator("thead th").all_inner_texts()
    k = next(i for i, h in enumerate(headers) if h.strip() == "decision")
    seen["decisions_before"] = grid_column(table, k)
    table.locator("thead th").nth(k).locator(".dt-column-title").click()
    page.wait_for_timeout(500)
    seen["decisions_sorted"] = grid_column(table, k)
    seen["problems_sorted"] = problems_shown(page)
    picker = app.locator(".sp-audit-pair select")
    labels = [t.replace("\xa0", " ") for t in picker.locator("option").all_text_contents()]
    seen["pair_label"] = next(t for t in reversed(labels) if t.startswith("east "))  # not the first (preselected)
    row, column = seen["pair_label"].split(":")[0].split(" × ")
    cells = app.locator(f".sp-hm-cell[data-row='{row}'][data-column='{column}']")
    cell = cells.last  # the last decision's cell of the pair
    cell.scroll_into_view_if_needed()
    seen["cell"] = {
        "text": cell.inner_text(),
        "tooltip": cell.get_attribute("title"),
        "decision": cell.get_attribute("data-decision"),
    }
    cell.click()
    pair_text = app.locator(".sp-pair").first
    sync_api.expect(pair_text).to_contain_text(f"={row}, ", timeout=30_000)
    sync_api.expect(pair_text).to_contain_text(f"={column}:", timeout=30_000)
    seen["pair_text"] = pair_text.inner_text()
    selected = "s => s.options[s.selectedIndex] ? s.options[s.selectedIndex].text : ''"
    seen["picker_after_click"] = picker.evaluate(selected).replace("\xa0", " ")
    outlined = (
        "els => els.map(e => [e.dataset.decision, e.dataset.row, e.dataset.column, e.getAttribute('aria-pressed')])"
    )
    seen["outlined_after_click"] = app.locator(".sp-hm-cell.sp-hm-on").evaluate_all(outlined)
    pair_grid = app.locator(".sp-grid").nth(1)  # the grid under the heat map
    seen["pair_rows"] = len(pair_grid.locator("table.dataTable tbody tr").all())
    seen["pair_info"] = pair_grid.locator(".dt-info").inner_text()
    cell.evaluate("e => e.scrollIntoView({block: 'center'})")  # the map and, under it, the picker and the pair
    page.wait_for_timeout(300)
    shoot(page, "jupyterlab-02-heatmap-click.png")
    seen["problems_pair"] = problems_shown(page)
    seen["picked_label"] = labels[0]
    picker.select_option(label=option_label(picker, labels[0]))
    first_row, first_column = labels[0].split(":")[0].split(" × ")
    sync_api.expect(pair_text).to_contain_text(f"={first_row}, ", timeout=30_000)
    sync_api.expect(pair_text).to_contain_text(f"={first_column}:", timeout=30_000)
    sync_api.expect(app.locator(f".sp-hm-cell.sp-hm-on[data-column='{first_column}']").first).to_be_visible()
    seen["outlined_after_pick"] = app.locator(".sp-hm-cell.sp-hm-on").evaluate_all(outlined)
    cells.first.focus()
    page.keyboard.press("Enter")
    sync_api.expect(pair_text).to_contain_text(f"={column}:", timeout=30_000)
    seen["picker_after_enter"] = picker.evaluate(selected).replace("\xa0", " ")
    csv_path = downloaded(page, app.locator("a.sp-download", has_text="audit-findings.csv"))
    seen["csv"] = pd.read_csv(csv_path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    seen["problems"] = problems_shown(page)
    return seen


def population_app(page, files: Path) -> dict:
    """03: upload a customer CSV through the view's <input type=file>; the summary counts those customers;
    download the summary and read it back."""
    import pandas as pd

    from sonet_policy.analysis.population import synthetic_population

    customers = files / "my-customers.csv"
    frame = synthetic_population(300, seed=3).drop(columns=["synthetic"])
    frame.to_csv(customers, index=False)
    seen: dict = {"uploaded": len(frame)}
    app = page.locator(".jp-Notebook .sp-population").first
    upload_file(page, app.locator(".sp-population-upload"), customers)
    note = app.locator(".sp-upload-note")
    sync_api.expect(note).to_contain_text("my-customers.csv: 300 customer(s) read", timeout=60_000)
    sync_api.expect(app).to_contain_text("Customer base given by the analyst. 300 customers", timeout=60_000)
    seen["note"] = note.inner_text()
    seen["info"] = app.locator(".sp-grid .dt-info").first.inner_text()
    app.locator(".sp-upload-note").evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    shoot(page, "jupyterlab-03-upload.png")
    csv_path = downloaded(page, app.locator("a.sp-download", has_text="population-summary.csv"))
    seen["summary"] = pd.read_csv(csv_path, encoding="utf-8-sig")
    answers_path = downloaded(page, app.locator("a.sp-download", has_text="population-answers.csv"))
    seen["answers"] = pd.read_csv(answers_path, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    seen["problems"] = problems_shown(page)
    return seen


def customers_app(page, files: Path) -> dict:
    """01: upload the sample (as an Excel workbook) into the customers view, pick row 3: the notebook's explorer
    shows that customer."""
    import pandas as pd

    from sonet_policy.paths import DATA_DIR
    from sonet_policy.widgets.downloads import excel_bytes

    workbook = files / "customers-sample.xlsx"
    sample = pd.read_csv(DATA_DIR / "samples" / "customers-sample.csv", dtype=str, keep_default_na=False)
    workbook.write_bytes(excel_bytes({"customers": sample}))  # the kit's writer: the memo "=1+1…" stays text
    seen: dict = {}
    app = page.locator(".jp-Notebook .sp-customers").first
    explorer = page.locator(".jp-Notebook .sp-explorer").first
    ipv4 = explorer.locator(".sp-answers [data-decision='ipv4']")
    seen["ipv4_before"] = ipv4.get_attribute("data-code")
    upload_file(page, app.locator(".sp-customers-upload"), workbook)
    note = app.locator(".sp-upload-note")
    sync_api.expect(note).to_contain_text("customers-sample.xlsx: 5 customer(s) answered", timeout=60_000)
    seen["note"] = note.inner_text()
    seen["info"] = app.locator(".sp-grid .dt-info").first.inner_text()
    seen["grid_text"] = app.locator(".sp-grid table.dataTable").first.inner_text()
    picker = app.locator(".sp-customers-row select")
    picker.select_option(label=option_label(picker, "row 3 (ok)"))
    sync_api.expect(app.locator(".sp-customers-loaded")).to_contain_text("row 3 loaded", timeout=30_000)
    sync_api.expect(ipv4).to_have_attribute("data-code", "reapply_v6plus", timeout=30_000)  # day 32 in the sample
    seen["ipv4_after"] = ipv4.get_attribute("data-code")
    seen["days_box"] = explorer.locator(".sp-days input").first.input_value()
    app.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    shoot(page, "jupyterlab-01-customers.png")
    explorer.locator(".sp-answer-row-box").evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    shoot(page, "jupyterlab-01-customers-explorer.png")  # the explorer's cards for row 3
    seen["problems"] = problems_shown(page)
    return seen


# what the day-1 loop does in each notebook's own apps after Run All (another step may be added per notebook)
APP_STEPS = {
    "01-scenario-explorer.ipynb": customers_app,
    "02-coverage-audit.ipynb": audit_app,
    "03-population-impact.ipynb": population_app,
}


@pytest.fixture(scope="module")
def lab_day(tmp_path_factory) -> dict:
    """Runs the whole day once (two servers, one browser each) and hands its observations to the tests."""
    ARTIFACTS.mkdir(exist_ok=True)
    home = tmp_path_factory.mktemp("jupyter-home")
    root = tmp_path_factory.mktemp("notebooks")
    for path in NOTEBOOKS:
        shutil.copy2(path, root / path.name)
    for rel, values in TEST_SETTINGS.items():
        target = home / "settings" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values), encoding="utf-8")
    write_tools_notebook(root)
    seen: dict = {"console": [], "opened_modified": {}, "ran": {}, "reopened_modified": {}, "reopened": {}}
    seen["apps"] = {}
    files = tmp_path_factory.mktemp("uploads")
    timings: dict[str, float] = {}

    start = time.perf_counter()
    with jupyter_lab(home, root, "jupyterlab-day1.log") as base, browser_page(seen["console"]) as page:
        for path in NOTEBOOKS:
            t0 = time.perf_counter()
            open_notebook(page, base, path.name)
            seen["opened_modified"][path.name] = is_modified(page)
            run_all(page)
            first_app = page.locator(".jp-Notebook .jupyter-widgets").first
            if first_app.count():
                first_app.evaluate("e => e.scrollIntoView({block: 'start'})")
            shoot(page, f"jupyterlab-{path.stem}-ran.png")
            seen["ran"][path.name] = {
                "problems": problems_shown(page),
                "widgets": page.locator(".jp-Notebook .jupyter-widgets").count(),
                "explorer_codes": page.locator(
                    ".jp-Notebook .sp-explorer >> nth=0 >> .sp-answers [data-decision]"
                ).evaluate_all("els => els.map(e => [e.dataset.decision, e.dataset.code])"),
            }
            if path.name == "01-scenario-explorer.ipynb":
                seen["interview"] = interview_in_lab(page)
            if path.name in APP_STEPS:
                t1 = time.perf_counter()
                seen["apps"][path.name] = APP_STEPS[path.name](page, files)
                timings[f"day 1 {path.name}: its apps used"] = time.perf_counter() - t1
            menu(page, "File", "Save Notebook")
            sync_api.expect(page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty")).to_have_count(0)
            timings[f"day 1 {path.name}"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        open_notebook(page, base, TOOLS_NOTEBOOK)
        run_all(page)
        seen["tools_problems"] = problems_shown(page)
        seen["tools"] = use_the_tools(page, ".jp-Notebook")
        page.locator(".jp-Notebook .sp-grid").first.evaluate("e => e.scrollIntoView({block: 'start'})")
        shoot(page, "jupyterlab-tools.png")
        timings[f"day 1 {TOOLS_NOTEBOOK} (sort, search, two downloads, copy)"] = time.perf_counter() - t0
    timings["day 1 (server, browser, every notebook)"] = time.perf_counter() - start

    start = time.perf_counter()
    with jupyter_lab(home, root, "jupyterlab-day2.log") as base, browser_page(seen["console"]) as page:
        for path in NOTEBOOKS:
            open_notebook(page, base, path.name)
            seen["reopened_modified"][path.name] = is_modified(page)
            shoot(page, f"jupyterlab-{path.stem}-reopened.png")
            seen["reopened"][path.name] = {
                "problems": problems_shown(page),
                "text": page.locator(".jp-Notebook").inner_text(),
            }
    timings["day 2 (fresh server, reopen every notebook)"] = time.perf_counter() - start
    seen["saved"] = {path.name: root / path.name for path in NOTEBOOKS}
    (ARTIFACTS / "jupyterlab-console.txt").write_text("\n".join(seen["console"]) + "\n", encoding="utf-8")
    (ARTIFACTS / "jupyterlab-timings.txt").write_text(
        "".join(f"{k}: {v:.1f} s\n" for k, v in timings.items()), encoding="utf-8"
    )
    return seen


def test_committed_notebooks_open_unmodified(lab_day) -> None:
    assert lab_day["opened_modified"] == dict.fromkeys(lab_day["opened_modified"], False), (
        "JupyterLab rewrote the metadata on open: re-run `make notebooks` with this machine's kernel"
    )


def test_run_all_shows_no_widget_or_cell_error(lab_day) -> None:
    problems = {name: ran["problems"] for name, ran in lab_day["ran"].items() if ran["problems"]}
    assert problems == {}
    # the apps did render as live widgets (the check above is not vacuous)
    assert lab_day["ran"]["01-scenario-explorer.ipynb"]["widgets"] > 0
    assert lab_day["ran"]["dashboard.ipynb"]["widgets"] > 0


def test_run_all_leaves_the_first_explorer_on_its_own_scenario(lab_day) -> None:
    # issue 15 point 4: the last cell of notebook 01 must not turn "The explorer" into an invalid scenario
    codes = dict(lab_day["ran"]["01-scenario-explorer.ipynb"]["explorer_codes"])
    assert "scenario" not in codes
    assert codes["device_action"] == "mail_exchange" and codes["ipv4"] == "pppoe_router"


def test_reopened_next_day_shows_text_not_widget_errors(lab_day) -> None:
    problems = {name: r["problems"] for name, r in lab_day["reopened"].items() if r["problems"]}
    assert problems == {}
    assert lab_day["reopened_modified"] == dict.fromkeys(lab_day["reopened_modified"], False)
    # each app's plain-text summary stands in for the widget
    assert "ScenarioExplorer: area=west" in lab_day["reopened"]["01-scenario-explorer.ipynb"]["text"]
    assert "Dashboard:" in lab_day["reopened"]["dashboard.ipynb"]["text"]


def test_interview_in_the_explorer_asks_the_next_question_and_settles(lab_day) -> None:
    got = lab_day["interview"]
    assert got["open_answers"] == "port_out|support_desk"  # both answers still possible while unknown
    assert got["ask"] == "keep_number" and "次に聞く" in got["ask_text"] and "番号継続" in got["ask_text"]
    assert got["highlighted"] == 1  # the control to ask about is highlighted
    assert got["settled"] == "support_desk" and got["ask_after"] == 0  # answered: settled, no question left


def test_saved_files_hold_no_widget_state(lab_day) -> None:
    for name, saved in lab_day["saved"].items():
        nb = json.loads(saved.read_text(encoding="utf-8"))
        assert "widgets" not in nb["metadata"], name
        views = [o for c in nb["cells"] for o in c.get("outputs", []) if WIDGET_VIEW in o.get("data", {})]
        assert views == [], name
        committed = (PROJECT / "notebooks" / name).stat().st_size
        assert saved.stat().st_size < 1.25 * committed + 2048, (name, saved.stat().st_size, committed)


def test_console_has_no_unsatisfied_shared_module(lab_day) -> None:
    assert [m for m in lab_day["console"] if "Unsatisfied version" in m] == []


def test_grid_sorts_searches_and_shows_wrapped_left_aligned_text(lab_day) -> None:
    tools = lab_day["tools"]
    assert lab_day["tools_problems"] == []
    assert tools["kinds_sorted"] == sorted(tools["kinds_sorted"]) != tools["kinds_before"]  # a header click sorts
    # the search reads every column: the conflicts, and the inconsistencies whose message says "device_action conflict"
    assert set(tools["kinds_searched"]) == {"conflict", "inconsistency"}
    assert "filtered from" in tools["info_searched"]
    assert tools["grid_align"] in ("left", "start") and tools["grid_white_space"] == "normal"


def test_downloads_read_back_with_pandas(lab_day) -> None:
    from sonet_policy.analysis.audit import audit

    findings = audit()
    tools = lab_day["tools"]
    assert tools["csv_bom"]
    assert tools["csv"]["kind"].tolist() == findings["kind"].tolist()
    assert tools["csv"]["message"].tolist() == findings["message"].tolist()
    assert list(tools["xlsx"]) == ["findings", "kinds"]
    assert tools["xlsx"]["findings"]["decision"].fillna("").tolist() == findings["decision"].tolist()


def test_copy_button_puts_the_japanese_message_on_the_clipboard(lab_day) -> None:
    tools = lab_day["tools"]
    assert tools["clipboard"] == tools["message_box"]
    assert tools["clipboard"].startswith("【解約方法】\nSo-net サポートデスクで解約を受け付けております。")


def test_02_a_header_click_sorts_the_findings_and_a_heat_map_click_opens_a_pairs_findings(lab_day) -> None:
    from sonet_policy.analysis.coverage import coverage_shares, share_label

    seen = lab_day["apps"]["02-coverage-audit.ipynb"]
    assert seen["decisions_sorted"] == sorted(seen["decisions_sorted"]) != seen["decisions_before"]
    row, column = seen["pair_label"].split(":")[0].split(" × ")
    shares = coverage_shares(rows="area", columns="device").set_index(["decision", "area", "device"])
    rec = shares.loc[(seen["cell"]["decision"], row, column)]
    assert seen["cell"]["text"] == share_label(rec["covered_share"])  # the cell clicked prints the table's share
    assert f"{rec['covered']}/{rec['scenarios']} scenarios covered" in seen["cell"]["tooltip"]
    assert seen["pair_text"].startswith(f"area={row}, device={column}:")
    assert seen["picker_after_click"] == seen["pair_label"]  # the picker follows the click
    decisions = list(dict.fromkeys(shares.index.get_level_values("decision")))
    assert sorted(o[0] for o in seen["outlined_after_click"]) == sorted(decisions)  # the pair, in every decision
    assert {tuple(o[1:3]) for o in seen["outlined_after_click"]} == {(row, column)}
    assert [o[0] for o in seen["outlined_after_click"] if o[3] == "true"] == [seen["cell"]["decision"]]
    first_row, first_column = seen["picked_label"].split(":")[0].split(" × ")
    assert {tuple(o[1:3]) for o in seen["outlined_after_pick"]} == {(first_row, first_column)}  # a pick: outlined
    assert seen["picker_after_enter"] == seen["pair_label"]  # Enter on a focused cell clicks it
    n = int(seen["pair_text"].split(": ", 1)[1].split(" finding")[0])
    assert n > 0 and seen["pair_rows"] == min(n, 10)  # the pair's findings are listed under the map
    assert re.search(rf" of {n} entr(y|ies)$", seen["pair_info"]), seen["pair_info"]
    assert seen["problems_sorted"] == seen["problems_pair"] == seen["problems"] == []


def test_02_the_findings_download_reads_back_with_pandas(lab_day) -> None:
    from sonet_policy.analysis.audit import audit
    from sonet_policy.analysis.coverage import findings_table

    csv = lab_day["apps"]["02-coverage-audit.ipynb"]["csv"]
    expected = findings_table(audit())
    assert csv["kind"].tolist() == expected["kind"].tolist()
    assert csv["message"].tolist() == expected["message"].tolist()


def test_03_an_uploaded_customer_file_replaces_the_synthetic_base_and_its_summary_downloads(lab_day) -> None:
    seen = lab_day["apps"]["03-population-impact.ipynb"]
    assert seen["note"] == "my-customers.csv: 300 customer(s) read"
    assert int(seen["summary"]["customers"].sum()) == 300  # not the 20,000 synthetic customers of Run All
    assert len(seen["answers"]) == 300  # one answer row per uploaded customer
    assert seen["problems"] == []


def test_01_the_customers_view_answers_an_uploaded_workbook_and_loads_a_row_into_the_explorer(lab_day) -> None:
    seen = lab_day["apps"]["01-scenario-explorer.ipynb"]
    assert seen["note"].startswith("customers-sample.xlsx: 5 customer(s) answered")
    assert seen["info"].endswith(" of 5 entries")
    assert "row 5: device: 'XX-999' is not in the catalogue" in seen["grid_text"]  # the bad row, in its row
    assert (seen["ipv4_before"], seen["ipv4_after"], seen["days_box"]) == ("pppoe_router", "reapply_v6plus", "32")
    assert seen["problems"] == []


def test_the_same_tools_work_in_voila_offline(tmp_path) -> None:
    """Voilà serves the tools notebook with the CDN blocked: the grid sorts and searches, both downloads read
    back, the copy button copies (the dashboard's own test is tests/test_browser.py)."""
    write_tools_notebook(tmp_path)
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "voila",
        str(tmp_path / TOOLS_NOTEBOOK),
        "--no-browser",
        "--Voila.ip=127.0.0.1",
        f"--port={port}",
        "--Voila.port_retries=0",
        "--VoilaExecutor.timeout=60",
    ]
    with (ARTIFACTS / "voila-tools.log").open("w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
        try:
            deadline = time.monotonic() + 60
            while True:
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        break
                assert proc.poll() is None and time.monotonic() < deadline, "voila did not start"
                time.sleep(0.2)
            with browser_page([]) as page:
                page.route("https://cdn.jsdelivr.net/**", lambda route: route.abort())
                page.goto(f"http://127.0.0.1:{port}/", timeout=60_000)
                tools = use_the_tools(page, "body")
                page.screenshot(path=str(ARTIFACTS / "voila-tools.png"), full_page=True)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    assert tools["kinds_sorted"] == sorted(tools["kinds_sorted"]) != tools["kinds_before"]
    # the search reads every column: the conflicts, and the inconsistencies whose message says "device_action conflict"
    assert set(tools["kinds_searched"]) == {"conflict", "inconsistency"}
    assert tools["csv_bom"] and len(tools["csv"]) == len(tools["xlsx"]["findings"]) > 0
    assert tools["clipboard"] == tools["message_box"] != ""
