"""What the browser tests share: Debian's Chromium (skipped when it is missing) and a free loopback port."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def skip_without_chromium():
    """Skip the calling test module when /usr/bin/chromium or Playwright is missing; returns
    ``playwright.sync_api``."""
    if not CHROMIUM.exists():
        pytest.skip(
            "/usr/bin/chromium is missing: install Debian's chromium (apt-get install -y chromium)",
            allow_module_level=True,
        )
    return pytest.importorskip("playwright.sync_api")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
