"""The kit works once installed: the wheel is built from this checkout, installed with the notebooks extra into a
fresh virtual environment (its dependencies resolved by pip, nothing borrowed from the test environment), and
every command runs from a folder that is not the checkout. Answers, findings and the DMN text must equal what the
checkout gives.

About a minute (most of it pip unpacking pandas, pyarrow and JupyterLab's stack from its cache): marked
``wheel`` so ``make unit`` skips it; ``make test`` and ``make wheel`` run it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from sonet_policy.analysis.audit import audit, counts
from sonet_policy.book.load import default_rulebook
from sonet_policy.engine.evaluate import evaluate
from sonet_policy.export.dmn import to_dmn
from sonet_policy.paths import DATA_DIR, PROJECT_DIR

pytestmark = pytest.mark.wheel

SCENARIO = [
    "--area", "west", "--plan", "other", "--device", "RV-230SE", "--setup", "v6plus_router",
    "--keep-number", "no", "--days", "31",
]  # fmt: skip
CUSTOMERS = pd.DataFrame(
    {
        "area": ["west", "east", "west"],
        "plan": ["other", "10g", "sml"],
        "device": ["RV-230SE", "PR-600KI", "PR-700KI"],  # the third is not in the catalogue: a partial answer
        "setup": ["v6plus_router", "wlan_router_10g", "rental_only"],
        "keep_number": ["no", "yes", "no"],
        "days_since_phone_stop": ["31", "", "40"],
    }
)


class Installed:
    """A fresh venv holding the wheel; :meth:`run` runs its python in a folder outside the checkout."""

    def __init__(self, venv: Path, work: Path, wheel: Path, seconds: dict[str, float]) -> None:
        self.venv, self.work, self.wheel, self.seconds = venv, work, wheel, seconds
        self.python = venv / "bin" / "python"

    def run(self, *args: str, env: dict[str, str] | None = None, check: bool = True) -> subprocess.CompletedProcess:
        clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
        clean["MPLBACKEND"] = "Agg"
        proc = subprocess.run(
            [str(self.python), *args],
            cwd=self.work,
            env={**clean, **(env or {})},
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check:
            assert proc.returncode == 0, f"{args}: exit {proc.returncode}\n{proc.stderr[-3000:]}"
        return proc

    def cli(self, *args: str, **kw) -> subprocess.CompletedProcess:
        return self.run("-m", "sonet_policy", *args, **kw)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("wheel")
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    built = subprocess.run(
        [*pip, "wheel", "--no-deps", "--quiet", "--wheel-dir", str(root / "dist"), str(PROJECT_DIR)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (root / "dist").glob("sonet_policy-*.whl")
    seconds["build"] = time.perf_counter() - start
    start = time.perf_counter()
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        + [f"{wheel}[notebooks]"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seconds["install"] = time.perf_counter() - start
    print(f"\nwheel {wheel.name}: built in {seconds['build']:.1f} s, fresh venv + install {seconds['install']:.1f} s")
    work = root / "elsewhere"  # an analyst's folder: no data/, no sonet_policy/, not the checkout
    work.mkdir()
    return Installed(venv, work, wheel, seconds)


def test_wheel_contents(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    shipped = {f"sonet_policy/data/{p.relative_to(DATA_DIR).as_posix()}" for p in DATA_DIR.rglob("*") if p.is_file()}
    assert shipped and shipped <= names, sorted(shipped - names)
    assert "sonet_policy/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert not any(n.startswith(("data/", "tests/", "notebooks/")) for n in names)
    metadata = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(installed.wheel).read(metadata).decode()
    assert "License-Expression: MIT" in text
    assert "Requires-Dist: pyarrow" in text


def test_installed_package_is_imported_from_the_venv_and_reads_its_own_data(installed: Installed) -> None:
    code = "import sonet_policy, sonet_policy.paths as p; print(sonet_policy.__file__, p.RULES_DIR, p.INSTALLED)"
    out = installed.run("-c", code).stdout.split()
    site = str(installed.venv)
    assert out[0].startswith(site) and out[1].startswith(site), out
    assert out[1].endswith("sonet_policy/data/rules") and out[2] == "True"


def test_version(installed: Installed) -> None:
    from sonet_policy import __version__

    assert installed.cli("--version").stdout.strip() == f"sonet-policy {__version__}"
    script = subprocess.run(
        [str(installed.venv / "bin" / "sonet-policy"), "--version"], capture_output=True, text=True, timeout=120
    )
    assert script.stdout.strip() == f"sonet-policy {__version__}"  # the console script too
    assert installed.run("-c", "import sonet_policy; print(sonet_policy.__version__)").stdout.strip() == __version__


def test_explain_gives_the_checkouts_answer(installed: Installed) -> None:
    from sonet_policy.engine.explain import explain

    got = json.loads(installed.cli("explain", *SCENARIO, "--format", "json").stdout)
    want = json.loads(
        explain(
            area="west",
            plan="other",
            device="RV-230SE",
            setup="v6plus_router",
            keep_number="no",
            days_since_phone_stop="31",
        ).to_json()
    )
    assert got["status"] == "ok"
    assert {d["decision"]: d["code"] for d in got["decisions"]} == {d["decision"]: d["code"] for d in want["decisions"]}
    assert got == want


def test_evaluate_a_file(installed: Installed) -> None:
    CUSTOMERS.to_csv(installed.work / "customers.csv", index=False)
    installed.cli("evaluate", "--input", "customers.csv", "--output", "answers.csv", "--no-progress")
    got = pd.read_csv(installed.work / "answers.csv", dtype=str, keep_default_na=False)
    want = evaluate(CUSTOMERS)
    assert len(got) == 3
    assert got["status"].tolist() == want["status"].astype(str).tolist()
    assert got["status"].tolist()[2] == "partial"  # the decisions that read the device are unanswered
    assert set(got["rulebook_hash"]) == {default_rulebook().hash}
    for column in want.columns:
        assert got[column].tolist() == want[column].astype(object).where(want[column].notna(), "").astype(str).tolist()


def test_audit_and_fail_on(installed: Installed) -> None:
    findings = json.loads(installed.cli("audit", "--format", "json").stdout)
    want = counts(audit(default_rulebook()))
    got = {k: sum(f["kind"] == k for f in findings) for k in want}
    assert got == want and want["gap"] > 0
    failing = installed.cli("audit", "--fail-on", "gap", check=False)
    assert failing.returncode == 3 and "gap" in failing.stderr


def test_export_dmn(installed: Installed) -> None:
    installed.cli("export-dmn", "--output", "rules.dmn")
    text = (installed.work / "rules.dmn").read_text(encoding="utf-8")
    assert text == to_dmn(default_rulebook())
    tables = ET.fromstring(text.encode()).findall(".//{*}decisionTable")
    assert len(tables) == len(default_rulebook().decisions)


def test_widgets_import_and_build(installed: Installed) -> None:
    code = (
        "from sonet_policy.widgets import AuditView, ScenarioExplorer\n"
        "app = ScenarioExplorer(area='west', plan='other', device='RV-230SE', setup='v6plus_router',"
        " keep_number=False, days=31)\n"
        "print(app.explanation.status)\n"
        "print(len(AuditView().findings))\n"
    )
    out = installed.run("-c", code).stdout.split()
    assert out[0] == "ok"
    assert int(out[1]) == len(audit(default_rulebook()))


def test_proposals_are_written_in_the_users_folder(installed: Installed) -> None:
    made = installed.cli("proposal", "new", "p1")
    assert (installed.work / "proposals" / "p1" / "decisions.csv").is_file(), made.stdout
    elsewhere = installed.work / "mine"
    installed.cli("proposal", "new", "p2", env={"SONET_POLICY_PROPOSALS": str(elsewhere)})
    assert (elsewhere / "p2" / "decisions.csv").is_file()
    site = installed.venv / "lib"
    assert not any(p.name == "proposals" for p in site.rglob("proposals"))


def test_build_devices_never_rewrites_the_installed_data(installed: Installed) -> None:
    refused = installed.cli("build-devices", check=False)
    assert refused.returncode == 2 and "--output" in refused.stderr
    installed.cli("build-devices", "--output", "devices.csv")
    assert (installed.work / "devices.csv").read_bytes() == (DATA_DIR / "devices.csv").read_bytes()
