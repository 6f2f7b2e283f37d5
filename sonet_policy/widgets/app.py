"""The display contract of the kit's widget apps, without importing ipywidgets (the package imports it lazily)."""

from __future__ import annotations


class WidgetApp:
    """Displays as its ``widget``; its plain text (what nbval compares and ``repr`` shows) is :meth:`summary`."""

    widget: object

    def summary(self) -> str:  # pragma: no cover - overridden
        return type(self).__name__

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict:
        bundle = self.widget._repr_mimebundle_(include=include, exclude=exclude)
        bundle["text/plain"] = self.summary()
        return bundle

    def __repr__(self) -> str:
        return self.summary()
