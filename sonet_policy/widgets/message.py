"""The customer message on screen: the Japanese text in a box with a copy button and a printable view, the
agent's notes under it (never inside the text to send), the English of each line in a fold for review.

The copy and print buttons run in the browser (the clipboard, a new window with ``window.print()``): no kernel
or server is involved, so they work in JupyterLab, in Voilà and in a saved notebook. Every text is escaped.

>>> from sonet_policy.engine.message import message_of
>>> markup = render_html(message_of(area="east", plan="sml", setup="wlan_1g", keep_number=True))
>>> "class='sp-copy'" in markup, "class='sp-print'" in markup, "<textarea class='sp-message-ja' readonly>" in markup
(True, True, True)
"""

from __future__ import annotations

import html
import json

from sonet_policy.engine.message import Message, message_of

_CSS = """
<style>
.sp-message{display:flex;gap:12px;flex-wrap:wrap;font-family:sans-serif;font-size:13px}
.sp-message textarea{width:520px;height:320px;font-size:13px}
.sp-message .sp-en{width:420px;color:#333;white-space:pre-wrap}
.sp-message-notes{color:#8a6d00;font-family:sans-serif;font-size:13px}
.sp-message-status{font-family:sans-serif;font-size:12px;color:#555}
</style>
"""

_PRINT_CSS = (
    "body{font-family:sans-serif;font-size:14px;margin:2em;color:#111}"
    "pre{white-space:pre-wrap;font-family:inherit;line-height:1.6}"
    ".notes{margin-top:2em;padding-top:1em;border-top:1px solid #999;color:#555;font-size:12px}"
    "@media print{.notes{display:none}}"
)


def printable_html(message: Message, *, title: str = "sonet-policy message") -> str:
    """A standalone HTML page of the message (what the print button opens): the text, then the agent's notes,
    which the printer leaves out."""
    e = html.escape
    notes = "".join(f"<li>{e(n)}</li>" for n in message.notes)
    return (
        f"<!doctype html><html lang='ja'><head><meta charset='utf-8'><title>{e(title)}</title>"
        f"<style>{_PRINT_CSS}</style></head><body><pre class='sp-print-ja'>{e(message.ja)}</pre>"
        f"<ul class='notes'>{notes}</ul><p class='notes'>rule book {e(message.rulebook_hash)}</p></body></html>"
    )


def _script(action: str) -> str:
    """A button's onclick: copy the text box, or open the printable page and print it."""
    if action == "copy":
        return (
            "var t=this.parentNode.querySelector('textarea');t.select();"
            "if(navigator.clipboard){navigator.clipboard.writeText(t.value)}else{document.execCommand('copy')}"
        )
    return (
        "var w=window.open('','_blank');if(w){w.document.write(JSON.parse(this.dataset.page));"
        "w.document.close();w.focus();w.print()}"
    )


def render_html(message: Message) -> str:
    """The message as HTML: the text box with the copy and print buttons, the statuses of the sections, the
    agent's notes below and the English in a fold."""
    e = html.escape
    page = e(json.dumps(printable_html(message)), quote=True)
    statuses = " · ".join(f"{s.decision}: {s.status}" for s in message.sections)
    notes = "".join(f"<div class='sp-message-notes'>{e(n)}</div>" for n in message.notes)
    return (
        f"{_CSS}<div class='sp-message'><div><textarea class='sp-message-ja' readonly>{e(message.ja)}</textarea><br>"
        f"<button class='sp-copy' onclick=\"{_script('copy')}\">Copy the Japanese text</button> "
        f'<button class=\'sp-print\' data-page="{page}" onclick="{_script("print")}">Printable view</button>'
        f"</div><details class='sp-en'><summary>English, for review</summary>{e(message.en)}</details></div>"
        f"<div class='sp-message-status'>{e(statuses)}</div>{notes}"
    )


class MessageView:
    """A message for a notebook: shows as :func:`render_html`, prints as the CLI prints it."""

    def __init__(self, message: Message) -> None:
        self.message = message

    def __str__(self) -> str:
        return str(self.message)

    def __repr__(self) -> str:
        return str(self.message)

    def _repr_html_(self) -> str:
        return render_html(self.message)


def show_message(**known: object) -> MessageView:
    """The message for the inputs known so far, for a notebook cell (``rulebook=`` too)."""
    return MessageView(message_of(**known))
