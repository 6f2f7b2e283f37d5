"""Answers from partial knowledge: exact (equal to evaluating every completion), unknown is not empty,
ask_next by the documented measure, the CLI's JSON."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from sonet_policy import evaluate, possible
from sonet_policy.book.load import default_rulebook
from sonet_policy.errors import ScenarioError

BOOK = default_rulebook()
DAYS = [None, 0, 31, 32, 40]  # a value in every interval of the day axis (and empty)


@pytest.fixture(scope="module")
def every_scenario() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every combination of the inputs (days: one value per interval) and its answers."""
    values = {n: list(BOOK.inputs[n].domain) for n in ("area", "plan", "device", "setup")}
    values["keep_number"] = [False, True]
    values["days_since_phone_stop"] = DAYS
    frame = pd.DataFrame(list(itertools.product(*values.values())), columns=list(values), dtype=object)
    return frame, evaluate(frame)


def brute_force(frame: pd.DataFrame, answers: pd.DataFrame, known: dict, decision: str) -> set[str]:
    mask = np.ones(len(frame), dtype=bool)
    for k, v in known.items():
        mask &= frame[k].map(lambda x, v=v: x == v or (x is None and v is None)).to_numpy(dtype=bool)
    got = answers.loc[mask, decision]
    out = set(got.dropna().astype(str))
    return out if out else {"invalid"}


@pytest.mark.parametrize(
    "known",
    [
        {},
        {"plan": "other", "setup": "v6plus_router"},
        {"plan": "sml"},
        {"area": "west", "device": "PR-600KI"},
        {"plan": "sml", "setup": "wlan_router_10g"},  # ruled out by a constraint: invalid where it blocks
        {"keep_number": True, "days_since_phone_stop": None},
        {"area": "east", "plan": "10g", "device": "XG-100NE", "setup": "wlan_router_10g"},
    ],
)
def test_possible_answers_equal_every_completion(every_scenario, known) -> None:
    frame, answers = every_scenario
    result = possible(**known)
    for decision, d in result.decisions.items():
        assert set(d.answers) == brute_force(frame, answers, known, decision), (decision, known)
        assert d.decided == (len(d.answers) == 1)


def test_the_issue_example_ipv4_depends_only_on_the_days() -> None:
    p = possible(plan="other", setup="v6plus_router")
    ipv4 = p.decisions["ipv4"]
    assert not ipv4.decided and ipv4.depends_on == ["days_since_phone_stop"]
    assert ipv4.answers == ["pppoe_router", "reapply_v6plus", "uncovered"]
    assert possible(plan="other", setup="v6plus_router", days=31).decisions["ipv4"].answers == ["pppoe_router"]
    assert possible(plan="other", setup="v6plus_router", days=32).decisions["ipv4"].answers == ["reapply_v6plus"]
    assert p.decisions["procedure"].depends_on == ["keep_number"]


def test_unknown_is_not_empty() -> None:
    unknown = possible(plan="other", setup="v6plus_router")
    empty = possible(plan="other", setup="v6plus_router", days_since_phone_stop=None)
    assert not unknown.decisions["ipv4"].decided
    assert empty.decisions["ipv4"].decided and empty.decisions["ipv4"].answers == ["uncovered"]
    assert empty.known["days_since_phone_stop"] == "empty"


def test_ask_next_minimises_the_expected_number_of_open_decisions() -> None:
    p = possible(plan="other", setup="v6plus_router")
    # by hand: keep_number settles procedure and number; ipv4 stays open on the days; wifi, device_action on
    # the device (and area): the measure is the mean count of open decisions over each input's values
    axes = BOOK.compiled().axes
    for name, score in p.expected_open.items():
        counts = []
        for value, label in enumerate(axes[name].labels):
            given = {"plan": "other", "setup": "v6plus_router"}
            if name == "days_since_phone_stop":
                interval = axes[name].intervals[value]
                given[name] = None if interval is None else int(interval[0])
            elif name == "keep_number":
                given[name] = label == "true"
            else:
                given[name] = label
            counts.append(sum(not d.decided for d in possible(**given).decisions.values()))
        assert score == pytest.approx(float(np.mean(counts))), name
    assert p.ask_next == min(p.expected_open, key=lambda n: (p.expected_open[n], list(BOOK.inputs).index(n)))
    everything = dict(area="west", plan="other", device="RV-230SE", setup="v6plus_router", keep_number=False, days=3)
    assert possible(**everything).ask_next is None


def test_a_bad_known_value_names_the_field() -> None:
    with pytest.raises(ScenarioError, match="^device: 'PR-999' is not in the catalogue") as caught:
        possible(device="PR-999")
    assert caught.value.field == "device"
    with pytest.raises(ScenarioError, match="colour"):
        possible(colour="red")


@pytest.mark.slow
def test_cli_possible_json_has_the_issue_shape() -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "sonet_policy",
            "possible",
            "--plan",
            "other",
            "--setup",
            "v6plus_router",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert set(data["decisions"]) == set(BOOK.decisions)
    for d in data["decisions"].values():
        assert set(d) >= {"decided", "answers", "depends_on"} and isinstance(d["decided"], bool)
    assert data["decisions"]["ipv4"]["depends_on"] == ["days_since_phone_stop"]
    assert data["ask_next"] in BOOK.inputs
    bad = subprocess.run(
        [sys.executable, "-m", "sonet_policy", "possible", "--device", "PR-999"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "device: 'PR-999'" in bad.stderr
