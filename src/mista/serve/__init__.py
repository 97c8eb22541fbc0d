"""The running node (``mista serve CONFIG_DIR``): sources, release and push, HTTPS receiver."""

from __future__ import annotations

from mista.serve.runtime import NodeRuntime, serve

__all__ = ["NodeRuntime", "serve"]
