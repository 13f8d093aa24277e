"""Small types shared by the style and the parts it configures (kept apart to avoid import cycles)."""

from __future__ import annotations

Color = tuple[int, int, int]
