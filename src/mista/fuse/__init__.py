"""The fused picture: reports in arrival order become tracks, identity events and radar
associations, incrementally and with bounded memory (``Fuser``)."""

from __future__ import annotations

from .config import FuseConfig
from .engine import Fuser

__all__ = ["FuseConfig", "Fuser"]
