"""environment.yml (for conda users) and pyproject.toml declare the same dependencies with the same bounds."""

from __future__ import annotations

import re
import tomllib

import yaml

from sonet_policy.paths import PROJECT_DIR


def _normalise(spec: str) -> tuple[str, str]:
    spec = spec.replace(" ", "")
    m = re.match(r"^([A-Za-z0-9_.\-]+)(\[[^\]]*\])?(.*)$", spec)
    assert m, spec
    return m.group(1).lower().replace("_", "-"), m.group(3)


def pyproject_requirements() -> dict[str, str]:
    meta = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = list(meta["dependencies"])
    for extra in meta["optional-dependencies"].values():
        specs += [s for s in extra if not s.startswith("sonet-policy")]
    return dict(_normalise(s) for s in specs)


def environment_requirements() -> dict[str, str]:
    env = yaml.safe_load((PROJECT_DIR / "environment.yml").read_text(encoding="utf-8"))
    specs: list[str] = []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            specs += [s for s in dep.get("pip", []) if not s.startswith("-e")]
        elif not dep.startswith(("python", "pip")):
            specs.append(dep)
    return dict(_normalise(s) for s in specs)


def test_environment_and_pyproject_agree() -> None:
    assert environment_requirements() == pyproject_requirements()


def test_every_dependency_has_a_lower_bound() -> None:
    assert all(bound.startswith(">=") for bound in pyproject_requirements().values())


def test_python_version_agrees() -> None:
    meta = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    env = yaml.safe_load((PROJECT_DIR / "environment.yml").read_text(encoding="utf-8"))
    pythons = [d for d in env["dependencies"] if isinstance(d, str) and re.match(r"^python\b", d)]
    assert pythons == ["python" + meta["requires-python"]]


def test_oldest_constraints_are_the_claimed_lower_bounds() -> None:
    """`make oldest` tests exactly the lower bounds the package claims for its own dependencies."""
    meta = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    claimed = dict(_normalise(s) for s in meta["dependencies"])
    lines = (PROJECT_DIR / "tests" / "oldest.txt").read_text(encoding="utf-8").splitlines()
    pinned = dict(_normalise(s) for s in lines if s.strip() and not s.startswith("#"))
    assert {name: "==" + bound.removeprefix(">=") for name, bound in claimed.items()} == pinned
    assert "pyarrow" in claimed  # the speed of evaluate depends on it (pyarrow-backed strings)


def test_license_metadata() -> None:
    meta = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert meta["license"] == "MIT"  # an SPDX expression, not the deprecated {text = ...} table
    assert all((PROJECT_DIR / f).is_file() for f in meta["license-files"])
    assert (PROJECT_DIR / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    assert not any(c.startswith("License ::") for c in meta["classifiers"])  # PEP 639: the expression alone


def test_version_changelog_and_typing_marker() -> None:
    import sonet_policy

    meta = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert sonet_policy.__version__ == meta["version"]
    changelog = (PROJECT_DIR / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## \[?{re.escape(meta['version'])}\]?", changelog, re.M)
    assert re.search(r"^## \[?Unreleased\]?", changelog, re.M)
    assert (PROJECT_DIR / "sonet_policy" / "py.typed").is_file()
