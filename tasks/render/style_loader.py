"""Reading a style TOML (bundled name or file path) into a validated `Style`.

The TOML's tables map onto the Style's parts — [canvas], [background], [layout], [visualiser]
(VisualiserSpec: every field of it is a key), [motion] (MotionSpec), [text] and [lyrics] — and `extends = "NAME"`
starts from another style. Every key is checked against the field it sets: an unknown key or
a bad value is one ValueError naming the file, the key and the valid choices. CLI overrides
arrive as dotted keys ("visualiser.kind") and go through the same checks.

`style_digest` hashes the style's text (and what it extends), so a render's cache key
follows edits to a style file, not only its name.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from importlib import resources
from pathlib import Path
from typing import Any

from mvflow.render import motion as mo
from mvflow.render import visualiser as vis
from mvflow.render.canvas import ASPECTS, parse_resolution
from mvflow.render.style import ALIGNS, FITS, MOTIONS, BackgroundSpec, CanvasSpec, LayoutSpec, Style

DEFAULT_STYLE = "classic"
_MAX_EXTENDS = 4


@dataclass(frozen=True)
class StyleSource:
    name: str
    origin: str  # "bundled" or the file path, for error messages
    text: str


def bundled_style_names() -> list[str]:
    folder = resources.files("mvflow.templates").joinpath("styles")
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def style_source(ref: str) -> StyleSource:
    """The TOML text of a bundled style name or a .toml path (one clear error when neither)."""
    if ref.endswith(".toml") or "/" in ref or "\\" in ref:
        path = Path(ref).expanduser()
        if not path.is_file():
            raise ValueError(f"style file not found: {ref}")
        return StyleSource(path.stem, str(path), path.read_text(encoding="utf-8"))
    if ref not in bundled_style_names():
        raise ValueError(f"unknown style {ref!r}; choose one of: {', '.join(bundled_style_names())} "
                         "(or give a path to a .toml file)")
    text = resources.files("mvflow.templates").joinpath("styles", f"{ref}.toml").read_text(encoding="utf-8")
    return StyleSource(ref, "bundled", text)


def style_digest(ref: str) -> str:
    """sha256 of the style's TOML text and of every style it extends."""
    digest = hashlib.sha256()
    for source, _ in _chain(ref):
        digest.update(source.text.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def load_style(ref: str = DEFAULT_STYLE, overrides: Mapping[str, Any] | None = None,
               labels: Mapping[str, str] | None = None) -> Style:
    """The style `ref` (name or .toml path) with dotted-key `overrides` (e.g. {"background.dim": 0.3}).

    `labels` names an override in errors (e.g. {"text.accent": "--accent"}).
    """
    chain = _chain(ref)
    style = Style()
    for source, data in reversed(chain):
        style = _apply(style, data, _where(source))
    name = chain[0][0].name
    style = replace(style, name=chain[0][1].get("name", name))
    if overrides:
        style = _apply(style, _nest(overrides), f"{_where(chain[0][0])} with options", labels or {})
    return style


def _chain(ref: str) -> list[tuple[StyleSource, dict[str, Any]]]:
    """The style and the ones it extends, most specific first."""
    chain: list[tuple[StyleSource, dict[str, Any]]] = []
    while ref:
        if len(chain) > _MAX_EXTENDS:
            raise ValueError(f"style {chain[0][0].name}: 'extends' goes deeper than {_MAX_EXTENDS} styles")
        source = style_source(ref)
        try:
            data = tomllib.loads(source.text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{_where(source)} is not valid TOML: {exc}") from None
        chain.append((source, data))
        parent = data.get("extends")
        if parent is not None and not isinstance(parent, str):
            raise ValueError(f"{_where(source)}: extends must be a style name or path")
        ref = parent
    return chain


def _where(source: StyleSource) -> str:
    return f"style {source.name!r}" if source.origin == "bundled" else f"style file {source.origin}"


def _nest(overrides: Mapping[str, Any]) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for key, value in overrides.items():
        table, _, name = key.rpartition(".")
        (nested.setdefault(table, {}) if table else nested)[name] = value
    return nested


# ---------------------------------------------------------------- the schema

# table -> (Style attribute holding a spec dataclass, or None for the Style's own fields, keys)
_STYLE_KEYS = {
    "text": {"accent": "accent", "fallback_accent": "fallback_accent", "color": "text_color",
             "box_opacity": "box_opacity", "title_weight": "title_weight", "subtitle_weight": "subtitle_weight",
             "line_weight": "line_weight", "next_weight": "next_weight", "next_opacity": "next_opacity",
             "title_size": "title_size", "subtitle_size": "subtitle_size", "line_size": "line_size",
             "line_min_size": "line_min_size", "next_size": "next_size", "max_rows": "max_rows",
             "title_align": "title_align", "title_thumbnail": "title_thumbnail", "credit": "credit",
             "credit_size": "credit_size", "credit_align": "credit_align"},
    "lyrics": {"fade": "fade", "lead": "lead", "hold": "hold", "karaoke": "karaoke", "next_line": "next_line"},
}
_SPEC_TABLES = {"canvas": CanvasSpec, "background": BackgroundSpec, "layout": LayoutSpec,
                "visualiser": vis.VisualiserSpec, "motion": mo.MotionSpec}
_TOP_KEYS = {"name", "description", "extends", "outputs"}

#: Allowed ranges of numbers, by "table.key" (others: at least 0).
_RANGES: dict[str, tuple[float, float]] = {
    "background.dim": (0.0, 2.0), "background.blur": (0.0, 0.2), "background.travel": (0.0, 0.3),
    "background.period": (1.0, 3600.0), "layout.focus": (0.0, 1.0), "text.box_opacity": (0.0, 1.0),
    "text.next_opacity": (0.0, 1.0), "visualiser.opacity": (0.0, 1.0), "visualiser.gap": (0.0, 0.95),
    "visualiser.count": (1, 1024), "text.max_rows": (0, 6),
    "motion.beat_amount": (0.0, 0.5), "motion.downbeat_amount": (0.0, 0.5), "motion.section_flash": (0.0, 0.5),
    "motion.glow": (0.0, 1.0),
    "motion.hold": (0.02, 2.0), "motion.section_amount": (0.0, 1.0), "motion.section_fade": (0.0, 4.0),
    "motion.entrance_distance": (0.0, 0.2), "motion.entrance_time": (0.0, 2.0),
    **{f"text.{k}": (0.005, 0.5) for k in ("title_size", "subtitle_size", "line_size", "line_min_size",
                                          "next_size", "credit_size")},
}


def _choices(table: str, key: str) -> tuple[str, ...] | None:
    if key.endswith("_weight"):
        from mvflow.render.fonts import WEIGHTS

        return tuple(WEIGHTS)
    return {"background.motion": MOTIONS, "background.fit": FITS, "text.title_align": ALIGNS,
            "text.credit_align": ALIGNS, "canvas.aspect": tuple(ASPECTS),
            "visualiser.kind": tuple(vis.VISUALISERS), "motion.beat": mo.BEATS, "motion.downbeat": mo.DOWNBEATS,
            "motion.section": mo.SECTIONS, "motion.entrance": mo.ENTRANCES}.get(f"{table}.{key}")


def _apply(style: Style, data: dict[str, Any], where: str, labels: Mapping[str, str] | None = None) -> Style:
    """`style` with the TOML `data` laid over it (validated key by key)."""
    changes: dict[str, Any] = {}
    for table, body in data.items():
        if table in _TOP_KEYS:
            if table == "description":
                changes["description"] = _check(where, table, body, "str", None)
            if table == "outputs":
                changes["outputs"] = _outputs(where, body)
            continue
        if table not in _SPEC_TABLES and table not in _STYLE_KEYS:
            valid = sorted([*_TOP_KEYS, *_SPEC_TABLES, *_STYLE_KEYS])
            raise ValueError(f"{where}: unknown key {table!r}; valid top-level keys and tables: {', '.join(valid)}")
        if not isinstance(body, dict):
            raise ValueError(f"{where}: {table!r} must be a table ([{table}])")
        if table in _SPEC_TABLES:
            changes[table] = _apply_spec(getattr(style, table), table, body, where, labels or {})
        else:
            keys = _STYLE_KEYS[table]
            types = {f.name: f.type for f in fields(Style)}
            for key, value in body.items():
                if key not in keys:
                    raise ValueError(f"{where}: unknown key [{table}] {key}; valid keys: {', '.join(sorted(keys))}")
                changes[keys[key]] = _check(where, _label(labels, table, key), value, types[keys[key]],
                                            _choices(table, key), _RANGES.get(f"{table}.{key}"))
    return replace(style, **changes)


def _apply_spec(spec: Any, table: str, body: dict[str, Any], where: str, labels: Mapping[str, str]) -> Any:
    types = {f.name: f.type for f in fields(spec)}
    values = {}
    for key, value in body.items():
        if key not in types:
            raise ValueError(f"{where}: unknown key [{table}] {key}; valid keys: {', '.join(sorted(types))}")
        values[key] = _check(where, _label(labels, table, key), value, types[key], _choices(table, key),
                             _RANGES.get(f"{table}.{key}"))
    if table == "canvas" and "resolution" in values:
        try:
            parse_resolution(values["resolution"])
        except ValueError as exc:
            raise ValueError(f"{where}: [canvas] {exc}") from None
    try:
        return replace(spec, **values)
    except ValueError as exc:  # the spec's own checks (e.g. VisualiserSpec)
        raise ValueError(f"{where}: [{table}] {exc}") from None


def _label(labels: Mapping[str, str] | None, table: str, key: str) -> str:
    return (labels or {}).get(f"{table}.{key}") or f"[{table}] {key}"


def _check(where: str, name: str, value: Any, type_name: Any, choices: tuple[str, ...] | None,
           limits: tuple[float, float] | None = None) -> Any:
    """`value` converted to the field's type, or a ValueError naming the key and what is valid."""
    kind = str(type_name).replace(" ", "")
    optional = kind.endswith("|None")
    kind = kind.removesuffix("|None")

    def bad(expected: str) -> ValueError:
        return ValueError(f"{where}: {name} = {value!r} is not valid; expected {expected}")

    if optional and (value is None or value == "" or value == "auto") and kind != "str":
        return None
    if choices is not None:
        if value not in choices:
            raise bad(f"one of: {', '.join(choices)}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if kind in ("float", "int"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind == "int" and value != int(value)):
            raise bad("a whole number" if kind == "int" else "a number")
        lo, hi = limits or (0, float("inf"))
        if not lo <= value <= hi:
            raise bad(f"a number from {lo} to {hi}" if hi != float("inf") else f"a number >= {lo}")
        return int(value) if kind == "int" else float(value)
    if kind == "str":
        if not isinstance(value, str):
            raise bad("a string")
        return value
    if kind == "Color":
        return _colour(value, bad)
    if kind == "tuple[Color,Color]":
        if not isinstance(value, list) or len(value) != 2:
            raise bad('two colours, e.g. ["#5cccff", "#ff5c9a"]')
        return (_colour(value[0], bad), _colour(value[1], bad))
    if kind == "Frac":
        return _box(value, bad)
    raise bad(kind)  # a field type this loader does not know: a programming error, still one line


def _outputs(where: str, value: Any) -> tuple[str, ...]:
    """A style's `outputs = ["full", "short"]`, checked against the outputs registry."""
    from mvflow.render.outputs import parse_outputs

    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f'{where}: outputs = {value!r} is not valid; expected a list like ["full", "short"]')
    try:
        return tuple(parse_outputs(value))
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _colour(value: Any, bad: Any) -> tuple[int, int, int]:
    text = value.strip().lstrip("#") if isinstance(value, str) else ""
    if len(text) != 6 or any(c not in "0123456789abcdefABCDEF" for c in text):
        raise bad("a colour like '#5cccff'")
    return (int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16))


def _box(value: Any, bad: Any) -> tuple[float, float, float, float]:
    numbers = isinstance(value, list) and len(value) == 4 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    if not numbers or not all(0 <= v <= 1 for v in value) or value[0] >= value[2] or value[1] >= value[3]:
        raise bad("[x0, y0, x1, y1] as fractions of the frame (0-1, x0 < x1, y0 < y1)")
    return tuple(float(v) for v in value)  # type: ignore[return-value]

