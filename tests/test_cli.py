"""Command-line conventions: one-line summaries in --help, options only where they apply, --version,
audit --fail-on for CI, proposals written under the user's folder, build-devices never rewriting installed data."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from sonet_policy import __version__
from sonet_policy.cli import COMMANDS
from sonet_policy.cli.main import main
from sonet_policy.paths import PROJECT_DIR, RULES_DIR

READS_ONE_BOOK = {"explain", "evaluate", "audit", "export-dmn"}
NO_BOOK = {"build-devices", "diff", "population", "proposal"}


def help_text(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    with pytest.raises(SystemExit) as stop:
        main([*args, "--help"])
    assert stop.value.code == 0
    return capsys.readouterr().out


def test_top_help_lists_every_command_with_a_one_line_summary(capsys: pytest.CaptureFixture[str]) -> None:
    text = help_text(capsys)
    assert set(COMMANDS) >= READS_ONE_BOOK | NO_BOOK
    for name in COMMANDS:
        summary = COMMANDS[name].summary
        assert summary and "\n" not in summary, name
        assert re.search(rf"^\s+{re.escape(name)}\s", text, re.M), f"{name} not listed"
        # argparse wraps the summary: its first words follow the name (or the next line for a long name)
        first_words = " ".join(summary.split()[:3])
        assert first_words in " ".join(text.split()), name
    assert "exit codes: 0" in " ".join(text.split())


@pytest.mark.parametrize("name", sorted(READS_ONE_BOOK | NO_BOOK))
def test_no_restructuredtext_in_help(capsys: pytest.CaptureFixture[str], name: str) -> None:
    for text in (help_text(capsys), help_text(capsys, name)):
        assert "`" not in text and ":func:" not in text and ":mod:" not in text, text


@pytest.mark.parametrize("name", sorted(READS_ONE_BOOK))
def test_rules_option_where_a_rule_book_is_read(capsys: pytest.CaptureFixture[str], name: str) -> None:
    assert "--rules" in help_text(capsys, name)


@pytest.mark.parametrize("name", sorted(NO_BOOK))
def test_no_rules_option_where_it_does_nothing(capsys: pytest.CaptureFixture[str], name: str) -> None:
    assert "--rules" not in help_text(capsys, name)
    with pytest.raises(SystemExit) as stop:
        main([name, "--rules", str(RULES_DIR)])
    assert stop.value.code == 2  # argparse: unrecognised argument


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"sonet-policy {__version__}"
    assert re.fullmatch(r"\d+\.\d+\.\d+.*", __version__)


def test_python_m_version() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sonet_policy", "--version"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0 and proc.stdout.strip() == f"sonet-policy {__version__}"


# ---------------------------------------------------------------- audit --fail-on ----


def test_audit_fail_on_kinds_present(capsys: pytest.CaptureFixture[str]) -> None:
    # the shipped book has gaps and conflicts (README): CI asking to fail on them fails, with the report printed
    assert main(["audit", "--fail-on", "gap,conflict"]) == 3
    captured = capsys.readouterr()
    assert captured.out.startswith("audit")
    assert re.search(r"audit failed: \d+ gap, \d+ conflict \(--fail-on gap,conflict\)", captured.err)


def test_audit_fail_on_kinds_absent(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--fail-on", "dead_rule,uncited_clause"]) == 0  # none of those on the shipped book
    assert main(["audit"]) == 0  # without --fail-on findings never fail
    assert main(["audit", "--format", "json", "--fail-on", "all"]) == 3
    assert "audit failed" in capsys.readouterr().err


def test_audit_fail_on_unknown_kind_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["audit", "--fail-on", "gaps"])
    assert stop.value.code == 2
    assert "unknown finding kind 'gaps'" in capsys.readouterr().err


# ---------------------------------------------------------------- where things are written ----


def test_proposal_new_goes_to_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SONET_POLICY_PROPOSALS", raising=False)
    monkeypatch.chdir(tmp_path)
    assert main(["proposal", "new", "p1"]) == 0
    assert (tmp_path / "proposals" / "p1" / "decisions.csv").is_file()
    assert not (PROJECT_DIR / "proposals" / "p1").exists()
    assert main(["proposal", "check", "p1"]) == 0  # check finds it in the same folder


def test_proposal_folder_from_environment_and_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SONET_POLICY_PROPOSALS", str(tmp_path / "env"))
    assert main(["proposal", "new", "p1"]) == 0
    assert (tmp_path / "env" / "p1" / "decisions.csv").is_file()
    assert main(["proposal", "new", "p2", "--proposals-dir", str(tmp_path / "opt")]) == 0  # the option wins
    assert (tmp_path / "opt" / "p2" / "decisions.csv").is_file()
    assert not (tmp_path / "proposals").exists()

    import sonet_policy.analysis.proposals as proposals

    assert proposals.PROPOSALS_DIR == tmp_path / "env"  # the old constant name still answers, read when asked


def test_build_devices_refuses_to_rewrite_installed_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sonet_policy.paths

    monkeypatch.setattr(sonet_policy.paths, "INSTALLED", True)
    assert main(["build-devices"]) == 2
    assert "--output" in capsys.readouterr().err
    assert main(["build-devices", "--output", str(tmp_path / "devices.csv")]) == 0
    assert (tmp_path / "devices.csv").read_bytes() == (RULES_DIR.parent / "devices.csv").read_bytes()


def test_data_dir_prefers_the_shipped_package_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import resources

    import sonet_policy.paths as paths

    assert paths.data_dir() == PROJECT_DIR / "data"  # the checkout: no sonet_policy/data
    (tmp_path / "data" / "rules").mkdir(parents=True)
    monkeypatch.setattr(resources, "files", lambda package: tmp_path)
    assert paths.data_dir() == (tmp_path / "data").resolve()
