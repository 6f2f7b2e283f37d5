"""The scenario explorer: controls built from the declared inputs, and the answer cards."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import ipywidgets as w

from sonet_policy.book.load import default_rulebook
from sonet_policy.book.model import RuleBook
from sonet_policy.engine.explain import Explanation, explain
from sonet_policy.engine.message import Message, message_of
from sonet_policy.engine.possible import Possibilities, possible
from sonet_policy.errors import ScenarioError
from sonet_policy.widgets.base import _App, error_html, show_html
from sonet_policy.widgets.cards import answer_row, cards_html
from sonet_policy.widgets.interview import (
    UNKNOWN,
    UNKNOWN_LABEL,
    ask_next_html,
    input_label,
    interview_html,
    interview_row,
)
from sonet_policy.widgets.message import render_html as message_html


def explorer_defaults(book: RuleBook) -> dict[str, object]:
    """The scenario the explorer starts with, from the declarations: each input's first value (a boolean: what
    an empty cell reads as, else true; an integer: empty where empty is a value of its own, else its minimum).

    >>> list(explorer_defaults(default_rulebook()).values())
    ['east', '10g', 'PR-600KI', 'wlan_1g', True, None]
    """
    out: dict[str, object] = {}
    for name, spec in book.inputs.items():
        if spec.type == "boolean":
            out[name] = spec.empty != "false"  # what an empty cell reads as, else true
        elif spec.type == "integer":
            out[name] = None if spec.empty == "null" else int(spec.minimum)
        else:
            out[name] = spec.domain[0] if spec.domain else ""
    return out


def domain_options(book: RuleBook, name: str) -> list[tuple[str, str]]:
    """``(label, code)`` pairs of a categorical input, labelled from ``inputs.csv``'s description.

    >>> domain_options(default_rulebook(), "area")
    [('east · NTT東日本', 'east'), ('west · NTT西日本', 'west')]
    """
    spec = book.inputs[name]
    labels: dict[str, str] = {}
    for part in spec.description.split(", "):
        code, sep, label = part.partition(" = ")
        if sep:
            labels[code.strip()] = label.strip()
    return [(f"{code} · {labels[code]}" if code in labels else code, code) for code in spec.domain]


def boolean_options(book: RuleBook, name: str) -> list[tuple[str, bool]]:
    """``(label, value)`` pairs of a boolean input: each value with its last Japanese alias from ``inputs.csv``
    (the input's own word; the general ones like はい come first).

    >>> boolean_options(default_rulebook(), "keep_number")
    [('false · 廃止', False), ('true · 継続', True)]
    """
    spec = book.inputs[name]
    out = []
    for value in spec.domain:
        words = [alias for alias, v in spec.aliases.items() if v == value and not alias.isascii()]
        out.append((f"{value} · {words[-1]}" if words else value, value == "true"))
    return out


def explain_scenario(scenario: Mapping[str, object], *, rulebook: RuleBook | None = None) -> Explanation:
    """The explorer's compute step: :func:`~sonet_policy.engine.explain.explain` of one scenario dict.

    >>> explain_scenario({**explorer_defaults(default_rulebook()), "device": "ＰＲ－６００ＫＩ"}).codes["device_action"]
    'keeps_working'
    """
    return explain(rulebook=rulebook, **dict(scenario))


def _css_names(name: str, headers: tuple[str, ...]) -> list[str]:
    """CSS classes of an input's control: ``sp-<input>`` and ``sp-<alias>`` for each ASCII header alias."""
    out = [f"sp-{name.replace('_', '-')}"]
    for h in headers:
        if h.isascii() and h.replace("_", "").replace("-", "").isalnum():
            out.append(f"sp-{h.replace('_', '-')}")
    return out


class ScenarioExplorer(_App):
    """Controls for one scenario, built from the book's declared inputs (``inputs.csv``), and its answer
    cards, recomputed on every change.

    A category or boolean input is a dropdown, a catalogue input a combobox taking any spelling (applied on
    every keystroke), an integer a number box (with an "empty" checkbox where empty is a value of its own).
    Every input can also be *unknown* (interview mode): the dropdowns' first option 「不明 / unknown」, an
    "unknown" checkbox beside the device and the number (``unknown[name]``; unknown is not empty). While any
    input is unknown the cards come from :func:`~sonet_policy.engine.possible.possible`: each decision's answer once
    settled, else the answers still possible and what they depend on, and a "次に聞く / Ask next" box on top
    that highlights the control to ask about. With everything known the cards are the full explanation.

    Keywords set the first scenario (input names or their header aliases); ``interview=True`` starts every
    input not given as unknown. ``set(...)`` changes controls as a person would (:data:`UNKNOWN` for unknown,
    ``None`` for empty), ``forget(name)`` makes an input unknown; ``inputs[name]`` is an input's control,
    ``empty[name]`` its "empty" checkbox; ``explanation``, ``codes``, ``possibilities``, ``open_decisions``,
    ``next_question`` and ``html`` hold what the cards show.

    >>> app = ScenarioExplorer()
    >>> app.set(plan="sml", setup="wlan_router_10g")
    >>> app.explanation.status, "10g" in app.explanation.error
    ('partial', True)
    >>> app = ScenarioExplorer(interview=True, keep_number=False)
    >>> app.codes["procedure"], app.codes["ipv4"], app.next_question in app.book.inputs
    ('support_desk', 'open', True)
    """

    def __init__(self, *, rulebook: RuleBook | None = None, interview: bool = False, **scenario: object) -> None:
        self.book = rulebook or default_rulebook()
        self.inputs: dict[str, w.ValueWidget] = {}
        self.empty: dict[str, w.Checkbox] = {}
        self.unknown: dict[str, w.Checkbox] = {}
        for name in self.book.inputs:
            self.inputs[name] = self._control(name)
        self._answer_boxes()
        self.message: Message | None = None
        self.possibilities: Possibilities | None = None
        self.note = ""  # a known value possible() cannot read (treated as unknown meanwhile)
        self.listeners: list[Callable[[], None]] = []  # called after each update (compare view, URL state)
        for control in self.controls:
            control.style = {"description_width": "150px"} if not isinstance(control, w.Checkbox) else {}
            control.layout = w.Layout(width="420px")
        self.explanation: Explanation | None = None
        self.html = ""
        self._holding = True
        start = explorer_defaults(self.book)
        if interview:
            start = dict.fromkeys(start, UNKNOWN)
        self.set(**{**start, **scenario})
        self._holding = False
        for control in self.controls:
            control.observe(self._changed, names="value")
        self.update()
        self.widget = self._layout()

    def _control(self, name: str) -> w.ValueWidget:
        """The control of one input by its declared type, with its "empty" and "unknown" boxes where it has
        them (kept in ``empty`` and ``unknown``) and its CSS classes."""
        spec = self.book.inputs[name]
        label = f"{name} {spec.label_ja}".strip()
        if spec.type in ("category", "boolean"):
            options = domain_options(self.book, name) if spec.type == "category" else boolean_options(self.book, name)
            control = w.Dropdown(options=[(UNKNOWN_LABEL, UNKNOWN), *options])
            control.description = label
        elif spec.type == "catalogue":
            control = w.Combobox(
                options=list(spec.domain),
                ensure_option=False,
                continuous_update=True,  # the cards never show another device than the box
                placeholder="any spelling",
                description=label,
            )
        else:
            control = w.BoundedIntText(
                min=int(spec.minimum),
                max=10**9,
                continuous_update=True,  # the cards follow each keystroke (not only Enter or leaving the box)
                description=label,
            )
            if spec.empty == "null":
                self.empty[name] = self._box(name, f"{spec.label_en or name}: empty", "empty")
        if spec.type in ("catalogue", "integer"):
            self.unknown[name] = self._box(name, UNKNOWN_LABEL, "unknown", tooltip=f"{label}: {UNKNOWN_LABEL}")
        for css in _css_names(name, spec.headers):
            control.add_class(css)
        return control

    def _box(self, name: str, description: str, kind: str, **options: str) -> w.Checkbox:
        """A checkbox beside an input's control, with the input's CSS classes and ``-<kind>`` after each."""
        box = w.Checkbox(description=description, indent=True, **options)
        for css in _css_names(name, self.book.inputs[name].headers):
            box.add_class(f"{css}-{kind}")
        return box

    def _answer_boxes(self) -> None:
        """The widgets that show the answer: the cards, the answers in a row, the customer message and the
        "ask next" row (shown while an input is unknown)."""
        self.out = w.Output()
        self.out.add_class("sp-answers")
        self.row = w.HTML()  # the five answers on one line, above the cards
        self.row.add_class("sp-answer-row-box")
        self.message_box = w.HTML()  # the customer message (Japanese with a copy button, English beside)
        self.message_box.add_class("sp-message-box")
        self.ask_box = w.HTML()  # 次に聞く / Ask next, while an input is unknown
        self.ask_box.add_class("sp-ask-next-html")
        self.ask_button = w.Button(description="→ 入力へ / go to it", tooltip="focus the control to ask about")
        self.ask_button.add_class("sp-ask-next-go")
        self.ask_button.on_click(lambda _button: self.focus_next())
        self.ask_row = w.HBox([self.ask_box, self.ask_button])
        self.ask_row.add_class("sp-ask-next-row")
        self.ask_slot = w.Box()  # holds ask_row while an input is unknown, nothing otherwise

    def _layout(self) -> w.VBox:
        """The app: the choices (each catalogue box with its unknown box under it) beside the other controls,
        then the answers and the message."""
        choices: list[w.ValueWidget] = []
        for n, c in self.inputs.items():
            if self.book.inputs[n].type in ("category", "catalogue"):
                choices += [c, *([self.unknown[n]] if n in self.unknown else [])]
        others = [c for c in self.controls if not any(c is x for x in choices)]
        widget = w.VBox(
            [
                self.ask_slot,
                w.HBox([w.VBox(choices), w.VBox(others)]),
                self.row,
                self.out,
                w.HTML("<h4>Message for the customer (お客さまへのご案内)</h4>"),
                self.message_box,
            ]
        )
        widget.add_class("sp-explorer")
        return widget

    def __getattr__(self, attr: str) -> w.ValueWidget:
        """An input's control by its name or a header alias (``app.days``)."""
        inputs = self.__dict__.get("inputs")
        book = self.__dict__.get("book")
        if inputs is not None and book is not None:
            from sonet_policy.text import header_key

            name = book.header_lookup().get(header_key(attr))
            if name in inputs:
                return inputs[name]
        raise AttributeError(attr)

    @property
    def controls(self) -> list[w.ValueWidget]:
        out: list[w.ValueWidget] = []
        for name, control in self.inputs.items():
            out.append(control)
            if name in self.empty:
                out.append(self.empty[name])
            if name in self.unknown:
                out.append(self.unknown[name])
        return out

    @property
    def scenario(self) -> dict[str, object]:
        """The scenario the controls describe (an integer is None while its "empty" box is ticked; an input
        not known yet is :data:`UNKNOWN`)."""
        out: dict[str, object] = {}
        for name, control in self.inputs.items():
            spec = self.book.inputs[name]
            if (name in self.unknown and self.unknown[name].value) or control.value is UNKNOWN:
                out[name] = UNKNOWN
            elif spec.type == "boolean":
                out[name] = bool(control.value)
            elif spec.type == "integer":
                out[name] = None if name in self.empty and self.empty[name].value else int(control.value)
            else:
                out[name] = control.value
        return out

    @property
    def known(self) -> dict[str, object]:
        """The inputs known so far (the scenario without the unknown ones)."""
        return {k: v for k, v in self.scenario.items() if v is not UNKNOWN}

    @property
    def unknown_inputs(self) -> list[str]:
        """The inputs not known yet, in the book's order."""
        return [k for k, v in self.scenario.items() if v is UNKNOWN]

    @property
    def open_decisions(self) -> list[str]:
        """The decisions not settled yet (none when every input is known)."""
        if self.possibilities is None:
            return []
        return [name for name, d in self.possibilities.decisions.items() if not d.decided]

    @property
    def next_question(self) -> str | None:
        """The input to ask about next (``possible``'s ``ask_next``); None when nothing is unknown or open."""
        return self.possibilities.ask_next if self.possibilities is not None else None

    @property
    def codes(self) -> dict[str, str]:
        """The code each card shows; ``{"scenario": "invalid"}`` for an invalid scenario; in interview mode
        a settled decision's answer, ``open`` for one not settled yet."""
        if self.possibilities is not None:
            return {n: d.answers[0] if d.decided else "open" for n, d in self.possibilities.decisions.items()}
        if self.explanation is None:
            return {}
        return self.explanation.codes if self.explanation.status != "invalid" else {"scenario": "invalid"}

    def forget(self, *names: str) -> None:
        """Make inputs unknown again (by name or header alias), as choosing 「不明 / unknown」 does."""
        self.set(**dict.fromkeys(names, UNKNOWN))

    def focus_next(self) -> None:
        """Put the keyboard focus on the control of :attr:`next_question` (the "go to it" button)."""
        if self.next_question is not None:
            self.inputs[self.next_question].focus()

    def set(self, **values: object) -> None:
        """Set controls by input name or header alias (an integer: None ticks its "empty" box; :data:`UNKNOWN`
        makes an input unknown)."""
        lookup = self.book.header_lookup()
        from sonet_policy.text import header_key

        named = {}
        for key, value in values.items():
            name = key if key in self.inputs else lookup.get(header_key(key))
            if name is None:
                raise TypeError(f"unknown control(s): {key}")
            named[name] = value
        held, self._holding = self._holding, True
        try:
            for name, value in named.items():
                spec, control = self.book.inputs[name], self.inputs[name]
                if name in self.unknown:
                    self.unknown[name].value = value is UNKNOWN
                if value is UNKNOWN:
                    if name not in self.unknown:
                        control.value = UNKNOWN
                elif spec.type == "boolean":
                    control.value = bool(value)
                elif spec.type == "integer":
                    empty = value is None or value == ""
                    if name in self.empty:
                        self.empty[name].value = empty
                    if not empty:
                        control.value = int(value)  # type: ignore[call-overload]
                elif spec.type == "catalogue":
                    control.value = "" if value is None else str(value)
                else:
                    control.value = str(value)
        finally:
            self._holding = held
        if not held:
            self.update()

    def _changed(self, change: dict) -> None:
        if self._holding:
            return
        owner = change.get("owner")
        for name, box in self.unknown.items():  # typing a value or ticking "empty" says the input is known
            if box.value and any(owner is c for c in (self.inputs[name], self.empty.get(name))):
                self._holding = True
                try:
                    box.value = False
                finally:
                    self._holding = False
        self.update()

    def update(self) -> None:
        """Recompute the answer and redraw the cards (an error shows in the app, not as a traceback)."""
        for name, box in self.empty.items():
            self.inputs[name].disabled = bool(box.value)
        self.note = ""
        try:
            if self.unknown_inputs:
                self._interview()
            else:
                self.possibilities = None
                self.explanation = explain_scenario(self.scenario, rulebook=self.book)
                self.html = cards_html(self.explanation)
                self.message = message_of(rulebook=self.book, **self.scenario)
                self.row.value = answer_row(self.explanation)
                self.message_box.value = message_html(self.message)
        except Exception as exc:  # shown to the analyst, not swallowed
            self.explanation, self.message, self.possibilities = None, None, None
            self.html = error_html(exc)
            self.row.value = answer_row(None)
            self.message_box.value = ""
        self._show_ask_next()
        show_html(self.out, self.html)
        for listener in self.listeners:
            listener()

    def _interview(self) -> None:
        """The cards from partial knowledge; a known value that names nothing is said and left out."""
        known, notes = self.known, {}
        while True:
            try:
                self.possibilities = possible(rulebook=self.book, **known)
                break
            except ScenarioError as exc:
                if exc.field not in known:
                    raise
                notes[exc.field] = f"{exc} (treated as unknown until it is valid)"
                known.pop(exc.field)
        self.note = "; ".join(notes.values())
        self.explanation, self.message = None, message_of(rulebook=self.book, **self.known)
        self.html = interview_html(self.possibilities, rulebook=self.book, notes=notes)
        self.row.value = interview_row(self.possibilities)
        self.message_box.value = message_html(self.message)  # settled sections, branches or questions

    def _show_ask_next(self) -> None:
        ask = self.next_question
        for name, control in self.inputs.items():
            targets = [control, *([self.unknown[name]] if name in self.unknown else [])]
            for t in targets:
                (t.add_class if name == ask else t.remove_class)("sp-ask-next")
        if self.possibilities is None:
            self.ask_box.value = ""
            self.ask_slot.children = ()
            return
        self.ask_box.value = ask_next_html(self.possibilities, rulebook=self.book, note=self.note)
        self.ask_button.disabled = ask is None
        self.ask_button.tooltip = f"focus {input_label(self.book, ask)}" if ask else ""
        self.ask_slot.children = (self.ask_row,)

    def summary(self) -> str:
        s = self.scenario
        shown = {k: "?" if v is UNKNOWN else "empty" if v is None else v for k, v in s.items()}
        head = "ScenarioExplorer: " + " ".join(f"{k}={v}" for k, v in shown.items())
        if self.possibilities is not None:
            p = self.possibilities
            cells = " ".join(
                f"{n}={d.answers[0]}" if d.decided else f"{n}=?({'|'.join(d.answers)})" for n, d in p.decisions.items()
            )
            note = f"\n  note: {self.note}" if self.note else ""
            return f"{head}\n  interview: {cells}\n  ask next: {p.ask_next or '-'}{note}"
        if self.explanation is None:
            return f"{head}\n  error (see the app)"
        if self.explanation.status == "invalid":
            return f"{head}\n  invalid: {self.explanation.error}"
        error = f"\n  error: {self.explanation.error}" if self.explanation.error else ""
        return head + "\n  " + " ".join(f"{k}={v}" for k, v in self.codes.items()) + error
