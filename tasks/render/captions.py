"""The lyric region: which block is shown, faded how much, highlighted how far.

Per frame this is copies and at most one integer lerp over the lyric box:
  * each block is composited over the backdrop once, in two versions (not sung / sung),
  * a block at full opacity is the "not sung" picture with strips of the "sung" picture
    copied in up to each row's wipe position,
  * a fade is a lerp between the backdrop and that picture (the timeline never shows
    two blocks at once).
Nothing is redrawn when the frame's state (blocks, fade steps, wipe positions, backdrop
version) equals the previous frame's, which is most frames.

Drawing a card takes tens of milliseconds, longer than the encoder's input buffer lasts,
so the next block's card is drawn ahead of time on a worker thread while the current one
is on screen (Pillow and numpy release the GIL for the heavy parts).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import NamedTuple

from mvflow.render.layers import Layer
from mvflow.render.text import LRU, CardPainter, Row, normalise_text
from mvflow.render.timeline import Timeline
from mvflow.render.yuv import FADE_ONE, Box, Planes, even_round, fade_steps, lerp_into


@dataclass
class _Card:
    unsung: Layer | None
    sung: Layer | None
    rows: list[Row]
    strip_x0: int


@dataclass
class _Pictures:
    unsung: Planes
    sung: Planes


class _Shown(NamedTuple):
    """One visible block in a frame's state."""

    line: int
    fade: int  # 0..FADE_ONE
    wipes: tuple[int, ...]  # highlight edge per row (lyric-box x), () when nothing is sung
    rise: int = 0  # px the block still sits below its place (its entrance), even


class Captions:
    """Draws the lyric box of each frame from a Timeline."""

    def __init__(self, timeline: Timeline, painter: CardPainter, box: Box, wipe_step: int = 2,
                 cache_size: int = 8, rise_px: int = 0):
        self.timeline, self.painter, self.box = timeline, painter, box
        self.rise_px = rise_px  # how far a line rises into place (0: no entrance)
        self.wipe_step = wipe_step
        self._cards: LRU[tuple[str, str | None, bool], Future[_Card]] = LRU(cache_size)
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lyric-cards")
        self._pictures: LRU[tuple, Future[_Pictures]] = LRU(4)
        self._scratch = Planes.allocate(box.width, box.height)
        self._last_state: object = None

    # -- state

    def _key(self, line: int) -> tuple[str, str | None]:
        upcoming = self.timeline.upcoming_text(line)
        return normalise_text(self.timeline.lines[line].text), normalise_text(upcoming) if upcoming else None

    def _card(self, line: int) -> _Card:
        return self._card_future(line).result()

    def _card_future(self, line: int) -> Future[_Card]:
        key = self._key(line)
        karaoke = self.timeline.has_karaoke(line)
        return self._cards.get((*key, karaoke), lambda: self._pool.submit(self._make_card, key, karaoke))

    def prefetch(self, t: float, bg: Planes, bg_version: int) -> None:
        """Start drawing the next block to appear after time t (card, then its pictures)."""
        upcoming = self.timeline.next_block(t)
        if upcoming is not None:
            self._pictures_future(upcoming.line, bg, bg_version)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _make_card(self, key: tuple[str, str | None], karaoke: bool) -> _Card:
        card = self.painter.lyric_card(*key)
        x, y = self.box.x0 + card.origin[0], self.box.y0 + card.origin[1]
        unsung = Layer.from_rgba(card.unsung, x, y)
        sung = Layer.from_rgba(card.sung, x, y) if karaoke else unsung
        return _Card(unsung, sung, card.rows, card.strip_x0)

    def _wipes(self, line: int, t: float) -> tuple[int, ...]:
        """Each row's highlight edge, snapped to the frame's `wipe_step` grid (see Layout)."""
        sung = self.timeline.sung_chars(line, t)
        if sung <= 0:
            return ()
        wipes = []
        for row in self._card(line).rows:
            x = row.wipe_x(sung)
            if sung < row.last_char:  # a row still being sung: snap; a finished one ends exactly
                x = (self.box.x0 + x) // self.wipe_step * self.wipe_step - self.box.x0
            wipes.append(x)
        return tuple(wipes)

    def state(self, t: float, bg_version: int) -> tuple[int, _Shown | None]:
        """Everything the lyric box's pixels depend on at time t (equal state, equal pixels)."""
        visible = self.timeline.visible(t)
        if visible is None:
            return bg_version, None
        block, opacity = visible
        rise = even_round(self.rise_px * self.timeline.entrance(block, t)) if self.rise_px else 0
        return bg_version, _Shown(block.line, fade_steps(opacity), self._wipes(block.line, t), rise)

    # -- drawing

    def draw(self, frame: Planes, backdrop: Planes, bg_version: int, index: int, t: float) -> bool:
        """Bring the frame's lyric box up to date for time t; False when nothing changed."""
        bg = backdrop.crop(self.box)
        self.prefetch(t, bg, bg_version)
        state = self.state(t, bg_version)
        if state == self._last_state:
            return False
        previous, self._last_state = self._last_state, state
        dst = frame.crop(self.box)
        shown = state[1]
        if shown is None:
            dst.assign(bg)
        elif shown.rise:
            target = dst if shown.fade >= FADE_ONE else self._scratch
            self._compose_risen(shown, bg, target)
            if target is not dst:
                lerp_into(dst, bg, target, shown.fade)
        elif shown.fade < FADE_ONE:
            lerp_into(dst, bg, self._compose(shown, bg, bg_version, self._scratch), shown.fade)
        elif self._only_wipes_grew(previous, state):
            self._highlight(shown, previous[1].wipes, bg, bg_version, dst)
        else:
            self._compose(shown, bg, bg_version, dst)
        return True

    @staticmethod
    def _only_wipes_grew(previous: object, state: tuple[int, _Shown | None]) -> bool:
        """True when the frame already shows this block fully and only the highlight advanced."""
        if not isinstance(previous, tuple) or previous[0] != state[0] or previous[1] is None:
            return False
        old, new = previous[1], state[1]
        return (old.line == new.line and old.fade >= FADE_ONE and old.rise == new.rise == 0
                and len(old.wipes) <= len(new.wipes)
                and all(a <= b for a, b in zip(old.wipes, new.wipes, strict=False)))

    def _compose(self, shown: _Shown, bg: Planes, bg_version: int, target: Planes) -> Planes:
        """Write a block at full opacity, highlighted up to its wipes, into target."""
        target.assign(self._pictures_for(shown.line, bg, bg_version).unsung)
        self._highlight(shown, (), bg, bg_version, target)
        return target

    def _compose_risen(self, shown: _Shown, bg: Planes, target: Planes) -> None:
        """Write a block `shown.rise` px below its place (entering), highlighted up to its wipes.

        Only the few frames of an entrance come here, so the card is blended directly rather
        than from pictures cached per backdrop.
        """
        card = self._card(shown.line)
        target.assign(bg)
        if card.unsung is not None:
            replace(card.unsung, box=card.unsung.box.shifted(0, shown.rise)).blend_into(target, self.box)
        if card.sung is None:
            return
        sung = replace(card.sung, box=card.sung.box.shifted(0, shown.rise))
        for row, wipe in zip(card.rows, shown.wipes, strict=False):
            stop = min(wipe, self.box.width)
            y0, y1 = min(row.y0 + shown.rise, self.box.height), min(row.y1 + shown.rise, self.box.height)
            if stop > card.strip_x0 and y1 > y0:
                strip = Box(card.strip_x0, y0, stop, y1)
                part = target.crop(strip)
                part.assign(bg.crop(strip))
                sung.blend_into(part, strip.shifted(self.box.x0, self.box.y0))

    def _highlight(self, shown: _Shown, done: tuple[int, ...], bg: Planes, bg_version: int, target: Planes) -> None:
        """Copy the sung picture into target between each row's `done` edge and its new wipe."""
        sung = self._pictures_for(shown.line, bg, bg_version).sung
        card = self._card(shown.line)
        for i, (row, wipe) in enumerate(zip(card.rows, shown.wipes, strict=False)):
            start = max(card.strip_x0, done[i] if i < len(done) else 0)
            stop = min(wipe, self.box.width)
            if stop > start:
                strip = Box(start, row.y0, stop, row.y1)
                target.crop(strip).assign(sung.crop(strip))

    def _pictures_for(self, line: int, bg: Planes, bg_version: int) -> _Pictures:
        return self._pictures_future(line, bg, bg_version).result()

    def _pictures_future(self, line: int, bg: Planes, bg_version: int) -> Future[_Pictures]:
        # The worker gets its own copy of the backdrop (a drifting one changes in place)
        # and the card's future itself: it was queued first on the one worker, so waiting
        # for it there cannot deadlock even if the LRU has dropped it meanwhile.
        key = (*self._key(line), self.timeline.has_karaoke(line), bg_version)
        return self._pictures.get(
            key, lambda: self._pool.submit(self._make_pictures, self._card_future(line), bg.copy())
        )

    def _make_pictures(self, card_future: Future[_Card], bg: Planes) -> _Pictures:
        card = card_future.result()
        unsung = self._over(bg, card.unsung)
        sung = unsung if card.sung is card.unsung else self._over(bg, card.sung)
        return _Pictures(unsung, sung)

    def _over(self, bg: Planes, layer: Layer | None) -> Planes:
        picture = bg.copy()
        if layer is not None:
            layer.blend_into(picture, self.box)
        return picture
