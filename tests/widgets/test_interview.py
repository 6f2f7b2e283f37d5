"""Interview mode of the explorer (issue 15): unknown inputs, answers still possible, the question to ask next.

Every expectation is read off :func:`sonet_policy.engine.possible.possible` or the rule book, so the tests check that
the widget shows what the engine says, and a few fixed facts of the page (day 31 / 32) pin the engine down.
"""

from __future__ import annotations

import re

import pytest

from sonet_policy.book.load import default_rulebook
from sonet_policy.engine.possible import possible
from sonet_policy.widgets.compare import CompareView, compare
from sonet_policy.widgets.dashboard import Dashboard
from sonet_policy.widgets.explorer import ScenarioExplorer
from sonet_policy.widgets.interview import UNKNOWN, UNKNOWN_LABEL
from sonet_policy.widgets.urlstate import parse_query, scenario_query, split_compare

BOOK = default_rulebook()
AREA, PLAN, DEVICE, SETUP, KEEP, DAYS = BOOK.input_order  # the shipped book's six inputs, in declared order
WEST_V6 = {AREA: "west", PLAN: "other", DEVICE: "RV-230SE", SETUP: "v6plus_router", KEEP: False}


def shown(app: ScenarioExplorer) -> str:
    return app.out.outputs[0]["data"]["text/html"]


def card_answers(markup: str, decision: str) -> list[str]:
    m = re.search(rf"data-decision='{decision}' data-code='([^']*)' data-answers='([^']*)'", markup)
    assert m, f"no interview card for {decision}"
    return m.group(2).split("|")


def test_every_input_can_be_unknown_and_unknown_is_first():
    app = ScenarioExplorer(interview=True)
    for name, spec in BOOK.inputs.items():
        if spec.type in ("category", "boolean"):
            assert app.inputs[name].options[0] == (UNKNOWN_LABEL, UNKNOWN)
        else:
            assert app.unknown[name].value is True
    assert app.scenario == dict.fromkeys(BOOK.inputs, UNKNOWN)
    assert app.unknown_inputs == list(BOOK.input_order)


def test_with_only_the_area_known_wifi_and_ipv4_show_several_answers():
    app = ScenarioExplorer(interview=True, **{AREA: "west"})
    expected = possible(**{AREA: "west"})
    markup = shown(app)
    for decision in ("wifi", "ipv4"):
        answers = card_answers(markup, decision)
        assert len(answers) > 1
        assert answers == expected.decisions[decision].answers
        assert app.codes[decision] == "open"
        for code in answers:  # each possible answer with the rule book's Japanese label
            ja = BOOK.code_info(decision, code)["label_ja"]
            if ja:
                assert ja in markup
    # what the open decisions depend on, by the inputs' labels from inputs.csv
    assert BOOK.inputs[SETUP].label_ja in markup and "depends on" in markup
    assert app.open_decisions == [n for n, d in expected.decisions.items() if not d.decided]
    # the question to ask next, first, with its label from inputs.csv, and its control highlighted
    assert app.next_question == expected.ask_next
    assert f"data-ask='{expected.ask_next}'" in app.ask_box.value
    assert BOOK.inputs[expected.ask_next].label_ja in app.ask_box.value
    assert app.widget.children[0].children == (app.ask_row,)
    highlighted = [n for n, c in app.inputs.items() if "sp-ask-next" in c._dom_classes]
    assert highlighted == [expected.ask_next]
    # the customer message from what is known: settled sections, branches or the question (issue 21)
    assert "sp-copy" in app.message_box.value and app.message is not None
    assert {s.status for s in app.message.sections} >= {"open"}


def test_answering_the_next_question_settles_decisions_as_possible_says():
    app = ScenarioExplorer(interview=True, **{AREA: "west"})
    known: dict[str, object] = {AREA: "west"}
    steps = []
    while app.next_question is not None:
        ask = app.next_question
        value = WEST_V6.get(ask, 32)
        before = len(app.open_decisions)
        app.set(**{ask: value})
        known[ask] = value
        expected = possible(**known)
        assert app.open_decisions == [n for n, d in expected.decisions.items() if not d.decided]
        steps.append((ask, before, len(app.open_decisions)))
    # the first answer (keep_number in the shipped book) settles procedure and number at once
    assert steps[0][2] < steps[0][1]
    assert app.codes["procedure"] == "support_desk" and app.codes["number"] == "abolished"
    assert steps[-1][2] == 0 or app.unknown_inputs == []


def test_unknown_day_count_differs_from_empty():
    app = ScenarioExplorer(**WEST_V6, days=31)
    assert app.codes["ipv4"] == "pppoe_router"
    app.forget("days")  # unknown: the answers for every day count are still possible
    assert app.scenario[DAYS] is UNKNOWN
    assert app.codes["ipv4"] == "open"
    unknown_answers = app.possibilities.decisions["ipv4"].answers
    assert {"pppoe_router", "reapply_v6plus"} <= set(unknown_answers)
    assert app.next_question == DAYS
    assert DAYS in app.possibilities.decisions["ipv4"].depends_on
    app.set(days=None)  # empty: known, the phone has not stopped yet; the scenario is complete
    assert app.scenario[DAYS] is None and app.unknown_inputs == []
    assert app.possibilities is None and app.explanation is not None
    assert app.codes["ipv4"] == app.explanation.codes["ipv4"]
    assert app.codes["ipv4"] not in ("open", "pppoe_router", "reapply_v6plus")
    assert app.empty[DAYS].value and not app.unknown[DAYS].value


def test_day_count_unknown_box_and_empty_box_in_the_widget():
    app = ScenarioExplorer(**WEST_V6, days=32)
    app.unknown[DAYS].value = True  # as a person ticks 「不明 / unknown」
    assert app.codes["ipv4"] == "open"
    app.unknown[DAYS].value = False
    assert app.codes["ipv4"] == "reapply_v6plus"
    app.unknown[DAYS].value = True
    app.empty[DAYS].value = True  # ticking "empty" says it is known: not stopped yet
    assert not app.unknown[DAYS].value and app.scenario[DAYS] is None and app.possibilities is None
    app.unknown[DAYS].value = True
    app.empty[DAYS].value = False
    app.inputs[DAYS].value = 31  # typing a number says it is known
    assert not app.unknown[DAYS].value and app.codes["ipv4"] == "pppoe_router"


def test_typing_a_device_while_it_is_unknown_makes_it_known():
    app = ScenarioExplorer(interview=True, **{AREA: "east"})
    assert app.scenario[DEVICE] is UNKNOWN and not app.device.disabled
    app.device.value = "pr200ne"
    assert not app.unknown[DEVICE].value and app.scenario[DEVICE] == "pr200ne"
    assert app.possibilities.known[DEVICE] == "PR-200NE"


def test_everything_known_is_the_full_explorer_again():
    app = ScenarioExplorer(interview=True)
    app.set(**WEST_V6, days=31)
    assert app.unknown_inputs == [] and app.possibilities is None and app.next_question is None
    assert app.codes == ScenarioExplorer(**WEST_V6, days=31).codes
    markup = shown(app)
    assert "class='sp-card sp-ok'" in markup and "V4-OTH-V6-31" in markup  # full explain cards
    assert "sp-copy" in app.message_box.value  # the customer message
    assert app.widget.children[0].children == ()  # no ask-next box
    app.set(**{PLAN: UNKNOWN})  # the dropdown's unknown option
    assert app.inputs[PLAN].value is UNKNOWN and app.codes["ipv4"] == "open"
    assert app.summary().splitlines()[0].endswith(f"{DAYS}=31") and f"{PLAN}=?" in app.summary()


def test_a_typed_device_that_names_nothing_is_said_and_left_unknown():
    app = ScenarioExplorer(interview=True, **{AREA: "west", KEEP: False})
    app.set(device="PR-700KI")
    assert "nearest: PR-600KI" in app.ask_box.value and "treated as unknown" in app.ask_box.value
    assert app.codes["device_action"] == "open"  # no stale answer from another device
    device_card = shown(app).split("data-decision='device_action'")[1].split("data-decision=")[0]
    assert "sp-card-note" in device_card and "PR-700KI" in device_card  # the card says why
    procedure_card = shown(app).split("data-decision='procedure'")[1].split("data-decision=")[0]
    assert "sp-card-note" not in procedure_card  # procedure does not read the device
    app.set(device="pr200ne")
    assert (
        app.note == ""
        and app.codes["device_action"]
        == possible(**{AREA: "west", KEEP: False, DEVICE: "PR-200NE"}).decisions["device_action"].answers[0]
    )


@pytest.mark.parametrize("typed", [["p", "pr", "pr2", "pr20", "pr200", "pr200n", "pr200ne"]])
def test_device_box_applies_on_every_keystroke(typed):
    """Item 8: the combobox sends every keystroke; the cards never show another device than the box."""
    app = ScenarioExplorer(**{**WEST_V6, AREA: "east"}, days=31)
    assert app.device.continuous_update is True
    assert app.codes["device_action"] != "onsite_exchange"
    for prefix in typed[:-1]:
        app.device.value = prefix  # what the front end sends per keystroke
        assert app.codes["device_action"] == "invalid", prefix
        assert "data-code='invalid'" in shown(app)
    app.device.value = typed[-1]
    assert app.explanation.resolved[DEVICE] == "PR-200NE"
    assert app.codes["device_action"] == "onsite_exchange"


# ------------------------------------------------------------------------------------ side by side


def test_compare_day_31_and_32_highlights_only_ipv4_with_its_rules():
    comparison = compare(WEST_V6, **{DAYS: [31, 32]})
    assert comparison.varied == [DAYS]
    assert comparison.differing == ["ipv4"]
    table = comparison.table()
    assert list(table.loc["ipv4"]) == ["pppoe_router", "reapply_v6plus"]
    assert list(table.columns) == [f"{DAYS}=31", f"{DAYS}=32"]
    markup = comparison._repr_html_()
    assert "data-compare-decision='ipv4' data-differs='true'" in markup
    assert "data-compare-decision='wifi' data-differs='false'" in markup
    assert "V4-OTH-V6-31" in markup and "V4-OTH-V6-32" in markup  # the rules behind the differing answers
    assert "32 日以上経過" in markup  # with the page's Japanese clause text
    assert "differing ipv4" in repr(comparison)


def test_compare_takes_header_aliases_products_and_says_a_bad_keyword():
    comparison = compare(WEST_V6, days=[31, None], **{KEEP: [True, False]})
    assert len(comparison.scenarios) == 4 and comparison.varied == [DAYS, KEEP]
    assert {"procedure", "number", "ipv4"} <= set(comparison.differing)
    with pytest.raises(ValueError, match="colour: not an input"):
        compare(WEST_V6, colour=["red"])
    with pytest.raises(ValueError, match="at least one input"):
        compare(WEST_V6)


@pytest.mark.slow
def test_compare_view_follows_the_explorer_and_shows_a_bad_value_in_one_line():
    app = ScenarioExplorer(**WEST_V6, days=31)
    view = CompareView(app, vary="days", values="31, 32")
    assert view.comparison.differing == ["ipv4"]
    app.set(**{PLAN: "10g"})  # the base follows the explorer
    assert view.comparison.scenarios[0][PLAN] == "10g"
    view.vary.value = AREA
    view.values.value = "east, west"
    assert view.comparison.varied == [AREA]
    board = Dashboard(compare=("days", "31, 32"), **WEST_V6)
    assert board.compare.comparison.differing == ["ipv4"]
    assert "Compare 比較" in board.tab.titles


# ------------------------------------------------------------------------------------ the URL remembers


def test_scenario_query_round_trips_unknown_empty_and_values():
    app = ScenarioExplorer(**WEST_V6, days=None)
    app.forget(PLAN)
    query = scenario_query(app.scenario)
    values, problems = parse_query(query, rulebook=BOOK)
    assert problems == []
    assert values == {**WEST_V6, PLAN: UNKNOWN, DAYS: None}
    other = ScenarioExplorer()
    other.set(**values)
    assert other.scenario == app.scenario and other.codes == app.codes


@pytest.mark.slow
def test_a_bad_url_value_names_the_field_and_keeps_the_default():
    board = Dashboard(url=True)
    before = board.explorer.scenario
    problems = board.open_query(f"{AREA}=north&{DAYS}=abc&colour=red&{DEVICE}=PR-700KI&{KEEP}=")
    assert len(problems) == 5
    assert any(p.startswith(f"URL {AREA}:") for p in problems)
    assert any(p.startswith(f"URL {DAYS}:") and "whole number" in p for p in problems)
    assert any("colour" in p for p in problems) and any("nearest: PR-600KI" in p for p in problems)
    assert board.explorer.scenario == before  # every input kept its default
    assert "sp-url-problem" in board.url_message.value and "Traceback" not in board.url_message.value


@pytest.mark.slow
def test_dashboard_writes_the_scenario_to_the_url_once_the_page_has_read_it():
    board = Dashboard(url=True)
    assert board.url_state.query == ""  # nothing written before the browser has said what the page holds
    board.url_state.initial = f"{AREA}=west&days=32&{PLAN}=other&{SETUP}=v6plus_router&{DEVICE}=rv230se"
    board.url_state.loaded = True  # what the browser sends on render
    assert board.explorer.scenario[AREA] == "west" and board.explorer.scenario[DAYS] == 32
    assert board.explorer.scenario[DEVICE] == "RV-230SE"
    assert parse_query(board.url_state.query, rulebook=BOOK)[0] == board.explorer.scenario
    board.explorer.set(**{KEEP: False})
    assert f"{KEEP}=false" in board.url_state.query
    plain = Dashboard()
    assert plain.url_state is None and plain.widget.children == (plain.tab,)


@pytest.mark.slow
def test_the_compare_tab_is_kept_in_the_url_and_opened_from_it():
    board = Dashboard(url=True)
    board.url_state.initial = f"{AREA}=west&{PLAN}=other&{SETUP}=v6plus_router&{DEVICE}=rv230se"
    board.url_state.loaded = True
    assert "compare" not in board.url_state.query  # nothing to compare yet: the address holds the scenario only
    board.compare.vary.value = DAYS
    board.compare.values.value = "31, 32"
    query = board.url_state.query
    assert "compare=" in query and "compare_values=31%2C+32" in query
    assert parse_query(split_compare(query)[0], rulebook=BOOK) == (board.explorer.scenario, [])
    shared = Dashboard(url=True)  # the link opened elsewhere: the same scenario and the same comparison
    shared.url_state.initial = query
    shared.url_state.loaded = True
    assert shared.explorer.scenario == board.explorer.scenario
    assert (shared.compare.vary.value, shared.compare.values.value) == (DAYS, "31, 32")
    assert shared.compare.comparison.differing == board.compare.comparison.differing != []
    assert shared.url_state.query == query
    problems = Dashboard(url=True).open_query(f"{AREA}=west&compare=colour&compare_values=1")
    assert problems == ["URL compare: 'colour' is not an input of this rule book; ignored"]
