"""Whether the browser tests can run: Debian's chromium, or a clear failure in CI."""

from __future__ import annotations

import os

import pytest

from tests.web.render import CHROMIUM


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def require_chromium() -> None:
    """Fail (in CI, ``CI=true``) or skip, saying why (elsewhere), without Debian's chromium."""
    if CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK):
        return
    message = (
        f"Debian's chromium is not installed at {CHROMIUM}: the browser tests need it "
        "(apt-get install chromium; .ci/run installs it). No browser is downloaded."
    )
    if in_ci():
        pytest.fail(message)
    pytest.skip(message)
