"""Text drawing with Pillow: fonts by weight, wrap-or-shrink fitting, lyric and title cards.

Text is rasterised once per distinct lyric block (current line + next line) and kept in a
small LRU keyed by the text itself, so a chorus that repeats is drawn once. Each block is
drawn twice, identical except for the current line's fill colour (not yet sung / sung);
the karaoke highlight is then just a copy of strips from the "sung" picture.
"""

from __future__ import annotations

import re
import unicodedata
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from mvflow.render.fonts import check_weight, load_font
from mvflow.render.layout import Layout
from mvflow.render.style import Color, Style
from mvflow.render.yuv import even_floor, even_round
from mvflow.textbreak import can_break_before, segments

ELLIPSIS = "\u2026"
_SHADOW = (0, 0, 0)
_OUTLINE = (8, 8, 12)

K = TypeVar("K")
V = TypeVar("V")


def normalise_text(text: str) -> str:
    """NFC, whitespace collapsed: rows and karaoke offsets are both measured on this form
    (NFC so that a decomposed "é" is one character drawn with one glyph)."""
    return " ".join(unicodedata.normalize("NFC", text).split())


# ---------------------------------------------------------------- fitting


@dataclass(frozen=True)
class _Pieces:
    """Break pieces of a text (mvflow.textbreak.segments; each keeps its trailing space) with
    their widths measured once: wrapping then adds numbers instead of measuring every
    candidate row (kerning across a break is negligible; rows are re-measured after)."""

    texts: list[str]
    widths: list[float]  # with the trailing space
    tight: list[float]  # without it (the row's end)

    @classmethod
    def of(cls, texts: list[str], font: ImageFont.FreeTypeFont) -> _Pieces:
        tight = [font.getlength(t.rstrip()) for t in texts]
        widths = [w + (font.getlength(t) - font.getlength(t.rstrip()) if t.endswith(" ") else 0.0)
                  for t, w in zip(texts, tight, strict=True)]
        return cls(texts, widths, tight)


def _greedy_rows(pieces: _Pieces, max_width: float) -> list[str]:
    """Fill rows piece by piece."""
    rows: list[str] = []
    current, width = "", 0.0
    for text, full, tight in zip(pieces.texts, pieces.widths, pieces.tight, strict=True):
        if current and width + tight > max_width:
            rows.append(current.rstrip())
            current, width = "", 0.0
        current += text
        width += full
    if current.strip():
        rows.append(current.rstrip())
    return rows


def _pieces(text: str, font: ImageFont.FreeTypeFont, max_width: float, hard: bool) -> _Pieces:
    """Break pieces of `text`; with `hard`, a piece wider than a row is cut into characters
    (a last resort for one very long word, better than cutting it off)."""
    texts = segments(text)
    if hard:
        texts = [part for t in texts for part in (t if font.getlength(t.rstrip()) > max_width else [t])]
    return _Pieces.of(texts, font)


def balanced_rows(text: str, font: ImageFont.FreeTypeFont, max_width: float, hard: bool = False) -> list[str]:
    """Wrap into as few rows as greedy wrapping needs, but with rows of similar length.

    Rows break at spaces, and between Chinese/Japanese characters (never before closing
    punctuation; see mvflow.textbreak). Binary-searches the narrowest width that still
    needs no extra row: a two-row lyric reads better split 50/50 than as a full row plus
    one orphan word.
    """
    pieces = _pieces(text, font, max_width, hard)
    rows = _greedy_rows(pieces, max_width)
    if len(rows) <= 1:
        return rows
    lo, hi = max(pieces.tight), max_width
    while hi - lo > 2:
        mid = (lo + hi) / 2
        if len(_greedy_rows(pieces, mid)) <= len(rows):
            hi = mid
        else:
            lo = mid
    return _greedy_rows(pieces, hi)


def _longest_prefix(text: str, font: ImageFont.FreeTypeFont, max_width: float) -> str:
    """The longest prefix of `text` that, with an ellipsis after it, fits max_width."""
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if font.getlength(text[:mid].rstrip() + ELLIPSIS) <= max_width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip()


def ellipsize(text: str, font: ImageFont.FreeTypeFont, max_width: float) -> str:
    """`text` if it fits, else cut with an ellipsis: at a word (or CJK character) boundary
    when that keeps at least half the row, else mid-word."""
    if font.getlength(text) <= max_width:
        return text
    cut = _longest_prefix(text, font, max_width)
    for i in range(len(cut), 0, -1):
        if i < len(text) and can_break_before(text, i):
            head = text[:i].rstrip(" ,;:-\u2013\u2014\u3001\uff0c")
            if head and font.getlength(head + ELLIPSIS) >= max_width / 2:
                return head + ELLIPSIS
            break
    return cut + ELLIPSIS


def _fit(text: str, weight: str, size: int, min_size: int, max_width: float,
         max_rows: int) -> tuple[ImageFont.FreeTypeFont, list[str], bool]:
    """(font, rows, fits): the largest size down to min_size at which text wraps into
    max_rows rows; at min_size over-long words may be cut into characters."""
    current = size
    while True:
        font = load_font(weight, current, text)
        rows = balanced_rows(text, font, max_width)
        if len(rows) <= max_rows and all(font.getlength(r) <= max_width for r in rows):
            return font, rows, True
        if current <= min_size:
            break
        current = max(min_size, int(current * 0.92))
    hard = balanced_rows(text, font, max_width, hard=True)
    if len(hard) <= max_rows:
        return font, hard, True
    return font, rows, False


def fit_text(text: str, weight: str, size: int, min_size: int, max_width: float,
             max_rows: int) -> tuple[ImageFont.FreeTypeFont, list[str]]:
    """Largest font (size down to min_size) at which `text` wraps into <= max_rows rows.

    The font family is chosen by the text's characters (mvflow.render.fonts). If even
    min_size needs more rows, the rows beyond max_rows are dropped and the last kept row
    ends in an ellipsis (never overflowing the safe area).
    """
    check_weight(weight)
    text = normalise_text(text)
    font, rows, fits = _fit(text, weight, size, min_size, max_width, max_rows)
    if not fits:
        rows = rows[:max_rows]
        rows = [ellipsize(r, font, max_width) for r in rows[:-1]] + [
            ellipsize(rows[-1] + ELLIPSIS, font, max_width)
        ]
    return font, rows


_BRACKETED = re.compile(r"\s*[(\[{（【][^()\[\]{}（）【】]*[)\]}）】]")
_FEATURING = re.compile(r"\s+(?:feat\.|ft\.|featuring)\s.*$", re.IGNORECASE)


def title_candidates(title: str) -> list[str]:
    """Ever shorter forms of a title that keep its name: the title itself, then without
    its bracketed parts ("(feat. X)", "[Official Video]", "(Remastered 2011)") dropped
    from the last one backwards, then without a bare "feat. X" tail."""
    current = normalise_text(title)
    out = [current]
    while (matches := list(_BRACKETED.finditer(current))) and len(matches[-1].group()) < len(current):
        last = matches[-1]
        current = normalise_text(current[: last.start()] + current[last.end():])
        out.append(current)
    shorter = _FEATURING.sub("", current)
    if shorter and shorter != current:
        out.append(shorter)
    return out


def fit_title(title: str, weight: str, size: int, min_size: int, max_width: float
              ) -> tuple[ImageFont.FreeTypeFont, str]:
    """One row for a title: the whole title if it fits at some size down to min_size,
    else the first shorter form (title_candidates) that does, else the shortest form
    ellipsized at a word boundary."""
    check_weight(weight)
    candidates = title_candidates(title)
    for candidate in candidates:
        font, rows, fits = _fit(candidate, weight, size, min_size, max_width, 1)
        if fits:
            return font, rows[0] if rows else ""
    font = load_font(weight, min_size, candidates[-1])
    return font, ellipsize(candidates[-1], font, max_width)


# ---------------------------------------------------------------- drawing


@dataclass(frozen=True)
class Row:
    """One drawn row of the current line, for the karaoke wipe.

    `edges[j]` is the x (block coordinates) where character j of the row starts; the last
    entry is the row's right end. `first_char` is the row's offset in the normalised line.
    """

    y0: int
    y1: int
    first_char: int
    edges: np.ndarray

    @property
    def last_char(self) -> int:
        return self.first_char + len(self.edges) - 1

    def wipe_x(self, sung_chars: float) -> int:
        """Right edge (even px) of the sung part of this row; 0 when nothing is sung yet."""
        if sung_chars <= self.first_char:
            return 0
        local = min(sung_chars - self.first_char, len(self.edges) - 1)
        return even_round(float(np.interp(local, np.arange(len(self.edges)), self.edges)))


@dataclass
class LyricCard:
    """A rendered lyric block: two RGBA pictures plus the current line's row geometry.

    The pictures' top-left sits at `origin` in lyric-box coordinates; rows and strip_x0
    are in lyric-box coordinates too.
    """

    unsung: Image.Image
    sung: Image.Image
    origin: tuple[int, int]
    rows: list[Row]
    strip_x0: int  # where karaoke strips start (left of the widest row, incl. outline)


@dataclass
class _Text:
    font: ImageFont.FreeTypeFont
    rows: list[str]
    line_height: int

    @property
    def height(self) -> int:
        return self.line_height * len(self.rows)

    def width(self) -> float:
        return max((self.font.getlength(r) for r in self.rows), default=0.0)


@dataclass
class _Placed:
    """Rows of text at their top-left pixel positions on a canvas."""

    text: _Text
    positions: list[tuple[int, int]]

    def mask(self, size: tuple[int, int], stroke: int = 0, shift: tuple[int, int] = (0, 0)) -> Image.Image:
        """Coverage (L) of the rows, thickened by `stroke` pixels: one FreeType pass."""
        mask = Image.new("L", size, 0)
        draw = ImageDraw.Draw(mask)
        for row, (x, y) in zip(self.text.rows, self.positions, strict=True):
            draw.text((x + shift[0], y + shift[1]), row, font=self.text.font, fill=255, stroke_width=stroke)
        return mask


def _char_edges(row: str, font: ImageFont.FreeTypeFont) -> np.ndarray:
    """x of each character boundary in `row` (len+1 values).

    Measured exactly at break opportunities (spaces, and every boundary in Chinese or
    Japanese text, whose wipe moves character by character) and interpolated inside
    words: a wipe does not need per-glyph kerning precision, and measuring every prefix
    of a long Latin row costs O(n^2).
    """
    breaks = [i for i in range(1, len(row)) if can_break_before(row, i) or row[i] == " "]
    anchors = sorted({0, len(row), *breaks})
    xs = [font.getlength(row[:i]) for i in anchors]
    return np.interp(np.arange(len(row) + 1), anchors, xs).astype(np.float32)


def _paint(image: Image.Image, mask: Image.Image, colour: Color, opacity: float = 1.0) -> None:
    """Composite a solid colour over `image` through `mask` scaled by `opacity`."""
    if opacity < 1.0:
        mask = mask.point([round(v * opacity) for v in range(256)])
    layer = Image.new("RGBA", image.size, (*colour, 255))
    layer.putalpha(mask)
    image.alpha_composite(layer)


class CardPainter:
    """Draws lyric cards and the title card for one layout and style."""

    def __init__(self, layout: Layout, style: Style, accent: Color):
        self.layout, self.style, self.accent = layout, style, accent
        box = layout.lyric_box
        self.size = (box.width, box.height)
        self.pad = layout.px(0.028, 2)
        self.max_text_width = box.width - 2 * self.pad - 2 * layout.px(0.01)
        self.stroke = layout.px(0.0035, 1)
        self.shadow_offset = layout.px(0.004, 1)
        self.shadow_blur = layout.px(0.007, 1)
        self.bleed = even_round(min(layout.px(0.03, 2), layout.safe.x0, layout.safe.y0))

    # -- lyric cards

    def lyric_card(self, current: str, upcoming: str | None) -> LyricCard:
        """Draw the block for `current` (big) and `upcoming` (small, dim), centred on the focus."""
        lay, st = self.layout, self.style
        font, rows = fit_text(current, st.line_weight, lay.px(st.line_size, 8), lay.px(st.line_min_size, 7),
                              self.max_text_width, st.max_rows or (3 if lay.portrait else 2))
        main = _Text(font, rows, round(font.size * 1.12))
        nxt = None
        if upcoming:
            upcoming = normalise_text(upcoming)
            nfont = load_font(st.next_weight, lay.px(st.next_size, 7), upcoming)
            nxt = _Text(nfont, [ellipsize(upcoming, nfont, self.max_text_width)],
                        round(nfont.size * 1.15))
        gap = round(main.font.size * 0.45) if nxt else 0
        block_h = main.height + gap + (nxt.height if nxt else 0)
        focus = lay.focus_y - lay.lyric_box.y0
        top = int(min(max(focus - main.height / 2, self.pad), self.size[1] - self.pad - block_h))
        top = max(top, self.pad)
        width = max(main.width(), nxt.width() if nxt else 0.0)
        # Draw on a canvas just big enough for the box and its shadow, not the whole lyric
        # area: conversion and blending later cost in proportion to its size.
        margin = self.pad + 3 * self.shadow_blur + 2 * self.shadow_offset + self.stroke
        ox = max(0, even_floor(self.size[0] / 2 - width / 2 - margin))
        oy = max(0, even_floor(top - margin))
        canvas = (min(self.size[0], even_round(self.size[0] / 2 + width / 2 + margin + 1)) - ox,
                  min(self.size[1], even_round(top + block_h + margin + 1)) - oy)
        centre_x, top = self.size[0] / 2 - ox, top - oy
        base = Image.new("RGBA", canvas, (0, 0, 0, 0))
        self._draw_box(base, centre_x, width, top, block_h)
        main_at = _Placed(main, self._row_positions(main, centre_x, top))
        items = [(main_at, None, 1.0)]
        if nxt:
            items.append((_Placed(nxt, self._row_positions(nxt, centre_x, top + main.height + gap)),
                          st.text_color, st.next_opacity))
        main_fill = self._draw_text(base, items)[0]
        unsung, sung = base.copy(), base
        _paint(unsung, main_fill, st.text_color)
        _paint(sung, main_fill, self.accent)
        main_pos = main_at.positions
        in_box = [(x + ox, y + oy) for x, y in main_pos]
        return LyricCard(unsung, sung, (ox, oy), self._karaoke_rows(main, in_box, normalise_text(current)),
                         even_floor(min(x for x, _ in in_box) - self.stroke - 2))

    def _row_positions(self, text: _Text, centre_x: float, top: int) -> list[tuple[int, int]]:
        return [(round(centre_x - text.font.getlength(r) / 2), top + i * text.line_height)
                for i, r in enumerate(text.rows)]

    def _draw_box(self, image: Image.Image, cx: float, text_width: float, top: int, height: int) -> None:
        if self.style.box_opacity <= 0:
            return
        half_w = text_width / 2 + self.pad
        pad_y = self.pad * 0.8
        rect = (round(cx - half_w), round(top - pad_y), round(cx + half_w), round(top + height + pad_y))
        fill = (6, 6, 10, round(255 * self.style.box_opacity))
        ImageDraw.Draw(image).rounded_rectangle(rect, radius=self.layout.px(0.02, 2), fill=fill)

    def _draw_text(self, image: Image.Image, items: list[tuple[_Placed, Color | None, float]]) -> list[Image.Image]:
        """Shadow under everything, then each item's outline and fill (colour None: fill left
        to the caller). Returns each item's fill mask."""
        strokes = [placed.mask(image.size, self.stroke) for placed, _, _ in items]
        shadow = strokes[0]
        for extra in strokes[1:]:
            shadow = ImageChops.lighter(shadow, extra)
        off = self.shadow_offset
        shifted = Image.new("L", image.size, 0)
        shifted.paste(shadow, (off, round(off * 1.5)))
        _paint(image, shifted.filter(ImageFilter.GaussianBlur(self.shadow_blur)), _SHADOW, 0.67)
        fills = []
        for (placed, colour, opacity), stroke in zip(items, strokes, strict=True):
            _paint(image, stroke, _OUTLINE, 0.92 * opacity)
            fill = placed.mask(image.size)
            if colour is not None:
                _paint(image, fill, colour, opacity)
            fills.append(fill)
        return fills

    def _karaoke_rows(self, text: _Text, positions: list[tuple[int, int]], line: str) -> list[Row]:
        """Row geometry for the wipe: each row's ink band, split where neighbours meet, and
        where in the (normalised) `line` each row starts."""
        margin = self.stroke + 2
        bands = []
        for row, (_, y) in zip(text.rows, positions, strict=True):
            _, top, _, bottom = text.font.getbbox(row)
            bands.append([max(even_floor(y + top - margin), 0), min(even_floor(y + bottom + margin + 2), self.size[1])])
        for upper, lower in zip(bands, bands[1:]):
            if upper[1] > lower[0]:
                upper[1] = lower[0] = even_round((upper[1] + lower[0]) / 2)
        rows, cursor = [], 0
        for row, (x, _), (y0, y1) in zip(text.rows, positions, bands, strict=True):
            edges = x + _char_edges(row, text.font)
            edges[-1] += margin  # a finished row is highlighted through its outline
            found = line.find(row, cursor)  # rows split at spaces or between CJK characters
            offset = found if found >= 0 else cursor  # an ellipsized row: where it would start
            rows.append(Row(y0, y1, offset, edges))
            cursor = offset + len(row)
        return rows

    # -- title card

    def title_card(self, title: str, subtitle: str, cover: Image.Image | None) -> Image.Image:
        """Cover thumbnail (when there is one) with the title and subtitle beside it.

        The picture extends `bleed` pixels beyond the title box on every side so the soft
        shadows are not cut off; its top-left belongs at the title box's corner minus bleed.
        """
        lay, st = self.layout, self.style
        box, bleed = lay.title_box, self.bleed
        image = Image.new("RGBA", (box.width + 2 * bleed, box.height + 2 * bleed), (0, 0, 0, 0))
        x = bleed
        if cover is not None and st.title_thumbnail:
            x += self._paste_thumbnail(image, cover, bleed, box.height) + lay.px(0.025)
        max_w = box.width + bleed - x
        tfont, trow = fit_title(title, st.title_weight, lay.px(st.title_size, 8), lay.px(st.title_size * 0.7, 7),
                                max_w)
        lines = [_Text(tfont, [trow], round(tfont.size * 1.08))]
        if subtitle.strip():
            subtitle = normalise_text(subtitle)
            sfont = load_font(st.subtitle_weight, lay.px(st.subtitle_size, 7), subtitle)
            lines.append(_Text(sfont, [ellipsize(subtitle, sfont, max_w)], round(sfont.size * 1.2)))
        y = bleed + max(0, (box.height - sum(t.height for t in lines)) // 2 - round(tfont.size * 0.08))
        items = []
        for text, opacity in zip(lines, (1.0, 0.8), strict=False):
            items.append((_Placed(text, [(_aligned(x, max_w, text.width(), st.title_align), y)]), st.text_color,
                          opacity))
            y += text.height
        self._draw_text(image, items)
        return image

    def credit_card(self, credit: str) -> Image.Image:
        """The credit line in the credit box, small and translucent (same bleed as the title card)."""
        box, bleed = self.layout.credit_box, self.bleed
        assert box is not None
        image = Image.new("RGBA", (box.width + 2 * bleed, box.height + 2 * bleed), (0, 0, 0, 0))
        credit = normalise_text(credit)
        font = load_font("Regular", self.layout.px(self.style.credit_size, 7), credit)
        text = _Text(font, [ellipsize(credit, font, box.width)], round(font.size * 1.2))
        x = _aligned(bleed, box.width, text.width(), self.style.credit_align)
        y = bleed + max(0, (box.height - text.height) // 2)
        self._draw_text(image, [(_Placed(text, [(x, y)]), self.style.text_color, 0.7)])
        return image

    def _paste_thumbnail(self, image: Image.Image, cover: Image.Image, at: int, side: int) -> int:
        thumb = cover.convert("RGB")
        s = min(thumb.size)
        square = ((thumb.width - s) // 2, (thumb.height - s) // 2, (thumb.width + s) // 2, (thumb.height + s) // 2)
        thumb = thumb.crop(square).resize((side, side), Image.Resampling.LANCZOS)
        mask = Image.new("L", (side, side), 0)
        ImageDraw.Draw(mask).rounded_rectangle((0, 0, side - 1, side - 1), radius=max(1, side // 10), fill=255)
        thumb = thumb.convert("RGBA")
        thumb.putalpha(mask)
        image.alpha_composite(thumb, (at, at))
        ring = ImageDraw.Draw(image)
        ring.rounded_rectangle((at, at, at + side - 1, at + side - 1), radius=max(1, side // 10),
                               outline=(255, 255, 255, 60), width=max(1, side // 120))
        return side


def _aligned(left: int, available: float, width: float, align: str) -> int:
    """x where a text `width` wide starts when aligned left/center/right in [left, left + available)."""
    free = max(0.0, available - width)
    return left + round({"left": 0.0, "center": free / 2, "right": free}[align])


class LRU(Generic[K, V]):
    """A tiny least-recently-used cache: rendered cards are big, songs repeat lines."""

    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self._items: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K, make: Callable[[], V]) -> V:
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        value = make()
        self._items[key] = value
        if len(self._items) > self.maxsize:
            self._items.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._items)
