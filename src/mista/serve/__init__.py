"""The running node (``mista serve CONFIG_DIR``): sources, release and push, HTTPS receiver.

The runtime is imported on first use, so commands that only prepare nodes (``mista demo``
checking its ports) start without loading the web stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mista.serve.runtime import NodeRuntime, serve

__all__ = ["NodeRuntime", "serve"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from mista.serve import runtime

        return getattr(runtime, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
