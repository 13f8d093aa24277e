"""Motion from the music: a pulse on the beats, a stronger accent on bar lines, a colour shift into
each chorus, and (in captions.py) lyric lines that rise into place on their first word.

Every effect is a number per frame computed once up front from the song's analysis (beats, bar
lines, sections on the video's clock, `MusicTimes`), quantised so that most frames repeat the
previous frame's value; the frame loop then only applies it:

  * `GradedBackdrop` tints the backdrop toward the accent colour by the section level. The
    backdrop gets a new version only when that level (or the backdrop itself) changes, so the
    parts over it redraw at a transition's few steps and never in between;
  * `FrameFinish` is the last pass over a finished frame: on every beat the visualiser's pixels
    glow (their difference from the backdrop is amplified, in its box only), on bar lines more;
    on a section's first beat (and, if a style asks, on bar lines or every beat) the whole picture
    brightens (a luma gain, Y' = Y (1 + g): an integer multiply per pixel into a second buffer,
    and a change x264's weighted prediction codes fairly cheaply), and a short fades in and out
    toward black. A pulse holds and stops (no decaying tail), so it changes the
    picture twice, and frames between pulses go out untouched.

Everything is affine per channel, so it runs in uint16 numpy without a float image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mvflow.models import SongAnalysis
from mvflow.render.compositor import Backdrop
from mvflow.render.style_types import Color
from mvflow.render.yuv import Box, Planes, rgb_to_yuv_float

BEATS = ("pulse", "none")
DOWNBEATS = ("accent", "none")
SECTIONS = ("shift", "none")
ENTRANCES = ("rise", "none")
#: Section kinds the colour shift goes into (sections found in the audio: the loudest ones).
LIFTED_KINDS = ("chorus", "hook")
LOUDEST_DB = 1.5

_SHIFT = 7
_ONE = 1 << _SHIFT  # levels and gains are integers out of 128
_SECTION_STEPS = 8  # a transition is at most this many backdrop versions


@dataclass(frozen=True)
class MotionSpec:
    """A style's [motion] table. Amounts are fractions; each kind has "none" to turn it off."""

    beat: str = "pulse"  # pulse: the visualiser glows on every beat (and the picture brightens by beat_amount)
    downbeat: str = "accent"  # accent: on each bar line the visualiser glows 1.5x (the picture: downbeat_amount)
    section: str = "shift"  # shift: a flash on a section's first beat, the colours shift toward the accent in a chorus
    entrance: str = "rise"  # rise: a lyric line rises into place, landing on its first word
    beat_amount: float = 0.0  # picture brightness gain on every beat (0-0.5; costs encoder time, see docs)
    downbeat_amount: float = 0.0  # picture brightness gain on a bar line (0-0.5; likewise)
    section_flash: float = 0.12  # picture brightness gain on a section's first beat (0-0.5)
    glow: float = 0.35  # how much stronger the visualiser gets on a beat (0-1; bar lines: 1.5x)
    hold: float = 0.1  # seconds a pulse holds before it stops
    section_amount: float = 0.25  # how far a chorus's colours shift toward the accent (0-1)
    section_fade: float = 0.5  # seconds of the shift in and out
    entrance_distance: float = 0.025  # how far a line rises, fraction of the short side
    entrance_time: float = 0.3  # seconds the rise takes (ending on the line's first word)

    def __post_init__(self) -> None:
        for name, value, choices in (("beat", self.beat, BEATS), ("downbeat", self.downbeat, DOWNBEATS),
                                     ("section", self.section, SECTIONS), ("entrance", self.entrance, ENTRANCES)):
            if value not in choices:
                raise ValueError(f"motion {name} must be one of: {', '.join(choices)}, not {value!r}")

    @property
    def moves(self) -> bool:
        """True when any music-driven effect is on (else the renderer needs no analysis)."""
        return self.beat != "none" or self.downbeat != "none" or self.section != "none" or self.entrance != "none"


@dataclass(frozen=True)
class MusicTimes:
    """The analysis on the video's clock (a short starts at its own 0)."""

    beats: np.ndarray
    downbeats: np.ndarray
    section_starts: np.ndarray  # every section boundary after the first section's start
    lifted: list[tuple[float, float]]  # (start, end) of the sections the colour shift goes into

    @classmethod
    def from_analysis(cls, analysis: SongAnalysis, offset: float = 0.0, length: float | None = None) -> MusicTimes:
        """`analysis` seen from `offset` seconds into the song for `length` seconds (None: to the end)."""
        end = analysis.duration - offset if length is None else length

        def window(times: list[float]) -> np.ndarray:
            t = np.asarray(times, float) - offset
            return t[(t >= -1e-6) & (t < end)]

        loudest = max((s.energy for s in analysis.sections), default=0.0)
        lifted = [(s.start - offset, s.end - offset) for s in analysis.sections
                  if s.kind in LIFTED_KINDS or (not s.kind and s.energy >= loudest - LOUDEST_DB)]
        return cls(window(analysis.beats), window(analysis.downbeats),
                   window([s.start for s in analysis.sections[1:]]), lifted)


def pulse_levels(times: MusicTimes, spec: MotionSpec, n_frames: int, fps: int) -> tuple[np.ndarray, np.ndarray]:
    """(picture gain, visualiser glow), each (n_frames,) int out of 128: every beat's amount, held.

    A pulse holds its amount for `hold` seconds and then stops: two changes of the picture per
    pulse (on, off), because each change of the whole picture is what costs the encoder (a
    smooth decay would change it on every frame of the tail), and most frames stay untouched.
    """
    gain, glow = np.zeros(n_frames), np.zeros(n_frames)
    if spec.beat == "none" and spec.downbeat == "none" or n_frames == 0:
        return gain.astype(np.int32), glow.astype(np.int32)
    beat_gain, beat_glow = beat_amounts(times, spec)
    for beat, amount, shine in zip(times.beats, beat_gain, beat_glow, strict=True):
        first = int(np.ceil(beat * fps - 1e-9))
        last = min(n_frames, max(first + 1, int(np.ceil((beat + spec.hold) * fps - 1e-9))))
        if last <= first:
            continue
        gain[first:last] = np.maximum(gain[first:last], amount)
        glow[first:last] = np.maximum(glow[first:last], shine)
    return np.rint(gain * _ONE).astype(np.int32), np.rint(glow * _ONE).astype(np.int32)


def beat_amounts(times: MusicTimes, spec: MotionSpec, near: float = 0.06) -> tuple[np.ndarray, np.ndarray]:
    """(picture gain, visualiser glow) of each beat.

    Every beat: beat_amount and `glow` (when `beat` is on); a bar line: downbeat_amount and 1.5x
    the glow (when `downbeat` is on); a section's first beat: section_flash (when `section` is on).
    """
    n = len(times.beats)
    on = spec.beat != "none"
    gain = np.full(n, spec.beat_amount if on else 0.0)
    glow = np.full(n, spec.glow if on else 0.0)
    if n == 0:
        return gain, glow

    def at(marks: np.ndarray) -> np.ndarray:
        if not len(marks):
            return np.zeros(n, bool)
        return np.min(np.abs(times.beats[:, None] - np.asarray(marks)[None, :]), axis=1) < near

    if spec.downbeat != "none":
        bar_lines = at(times.downbeats)
        gain = np.where(bar_lines, np.maximum(gain, spec.downbeat_amount), gain)
        glow = np.where(bar_lines, np.maximum(glow, min(1.0, 1.5 * spec.glow)), glow)
    if spec.section != "none":
        gain = np.where(at(times.section_starts), np.maximum(gain, spec.section_flash), gain)
    return gain, glow


def section_levels(times: MusicTimes, spec: MotionSpec, n_frames: int, fps: int) -> np.ndarray:
    """(n_frames,) int 0.._SECTION_STEPS: how far into the colour shift each frame is (smooth in and out)."""
    if spec.section == "none" or n_frames == 0 or not times.lifted:
        return np.zeros(n_frames, np.int32)
    t = np.arange(n_frames) / fps
    level = np.zeros(n_frames)
    fade = max(spec.section_fade, 1.0 / fps)
    for start, end in times.lifted:
        rise = np.clip((t - start) / fade + 0.5, 0, 1)  # centred on the boundary
        fall = np.clip((end - t) / fade + 0.5, 0, 1)
        level = np.maximum(level, np.minimum(rise, fall))
    eased = level * level * (3 - 2 * level)
    return np.rint(eased * _SECTION_STEPS).astype(np.int32)


# ---------------------------------------------------------------- per-pixel operations


def affine_into(dst: np.ndarray, src: np.ndarray, gain: int, offset: int, ceiling: int = 255) -> None:
    """dst = (src * gain >> 7) + offset, in uint16, clipped to `ceiling` (dst may be src)."""
    acc = src.astype(np.uint16)
    acc *= np.uint16(gain)
    acc >>= _SHIFT
    acc += np.uint16(max(offset, 0))
    np.minimum(acc, ceiling, out=acc)
    np.copyto(dst, acc, casting="unsafe")


def toward(value: float, share: int) -> tuple[int, int]:
    """(gain, offset) of x -> x + share/128 * (value - x), for affine_into."""
    return _ONE - share, int(round(value * share / _ONE))


def overdrive_into(dst: np.ndarray, bg: np.ndarray, gain: int, low: int, high: int) -> None:
    """dst = dst + (dst - bg) * gain / 128, clipped to [low, high]: what was drawn over the
    backdrop gets stronger, the backdrop itself stays exactly as it was."""
    diff = dst.astype(np.int16)  # |dst - bg| * gain <= 255 * 128 fits (gain is at most 128: glow <= 1)
    diff -= bg
    diff *= np.int16(gain)
    diff >>= _SHIFT
    diff += dst
    np.clip(diff, low, high, out=diff)
    np.copyto(dst, diff, casting="unsafe")


class GradedBackdrop:
    """A backdrop tinted toward the accent colour by a per-frame level (0: as it is)."""

    def __init__(self, inner: Backdrop, levels: np.ndarray, accent: Color, amount: float):
        self.inner = inner
        self.levels = levels
        self._target = rgb_to_yuv_float(np.array(accent, np.float32))
        self._amount = amount
        self._frame: Planes | None = None
        self._shown: tuple[int, int] | None = None
        self._version = -1

    def at(self, index: int) -> tuple[Planes, int]:
        planes, version = self.inner.at(index)
        level = int(self.levels[min(index, len(self.levels) - 1)]) if len(self.levels) else 0
        if level == 0:
            return planes, version * 2  # even versions: the inner backdrop itself
        if (version, level) != self._shown:
            self._shown = (version, level)
            self._version += 1
            if self._frame is None:
                self._frame = Planes.allocate(planes.width, planes.height)
            self._tint(planes, level)
        return self._frame, self._version * 2 + 1

    def _tint(self, planes: Planes, level: int) -> None:
        share = int(round(self._amount * _ONE * level / _SECTION_STEPS))
        y, u, v = (float(c) for c in self._target)
        affine_into(self._frame.y, planes.y, *toward(max(y, 160.0), share // 3))  # a little lighter too
        for channel, target in zip(range(2), (u, v), strict=True):
            affine_into(self._frame.uv[channel], planes.uv[channel], *toward(target, share))


class FrameFinish:
    """The last pass over a finished frame: picture pulse, visualiser glow, fade in and out.

    The glow touches only the visualiser's box, so it is applied to the frame in place and
    undone (`restore`, before the next frame is drawn) from a copy of that box; a pulse or
    a fade changes every pixel and goes into a second buffer instead.
    """

    def __init__(self, width: int, height: int, gain: np.ndarray, glow: np.ndarray, glow_box: Box | None,
                 fade: np.ndarray | None = None):
        self.gain, self.glow = gain, glow  # (n_frames,) out of 128
        self.glow_box = glow_box if glow_box is not None and glow_box.width and glow_box.height else None
        self.fade = fade  # (n_frames,) brightness out of 128 (128 = none), or None
        self._out = Planes.allocate(width, height)
        self._saved = Planes.allocate(self.glow_box.width, self.glow_box.height) if self.glow_box else None
        self._glowing: Planes | None = None  # the frame whose box holds glowed pixels

    def level(self, index: int) -> tuple[int, int, int]:
        """(picture gain, glow, fade) of frame `index`, all out of 128."""
        def at(values: np.ndarray | None, default: int) -> int:
            return int(values[index]) if values is not None and index < len(values) else default

        return at(self.gain, 0), at(self.glow, 0) if self.glow_box else 0, at(self.fade, _ONE)

    def restore(self) -> None:
        """Undo the last frame's glow (called before the parts draw the next frame over it)."""
        if self._glowing is not None:
            self._glowing.crop(self.glow_box).assign(self._saved)
            self._glowing = None

    def apply(self, frame: Planes, bg: Planes, index: int) -> Planes:
        """The frame to send: `frame` (glowing in place, or untouched) or the finished copy."""
        gain, glow, fade = self.level(index)
        if glow:
            box = self.glow_box
            self._saved.assign(frame.crop(box))
            self._glowing = frame
            overdrive_into(frame.crop(box).y, bg.crop(box).y, glow, 16, 235)
            overdrive_into(frame.crop(box).uv, bg.crop(box).uv, glow, 16, 240)
        if gain == 0 and fade >= _ONE:
            return frame
        out, luma = self._out, frame.y
        if gain:  # a brightness gain (no offset): what x264's weighted prediction models, so it stays cheap
            affine_into(out.y, frame.y, _ONE + gain, 0, ceiling=235)
            luma = out.y
        if fade < _ONE:  # toward black: Y to 16, chroma to 128
            affine_into(out.y, luma, *toward(16, _ONE - fade))
            affine_into(out.uv, frame.uv, *toward(128, _ONE - fade))
        else:
            np.copyto(out.uv, frame.uv)
        return out


def fade_levels(n_frames: int, fps: int, fade_in: float, fade_out: float) -> np.ndarray | None:
    """(n_frames,) brightness out of 128 for a fade from black and to black, or None without fades."""
    if fade_in <= 0 and fade_out <= 0:
        return None
    t = (np.arange(n_frames) + 0.5) / fps
    duration = n_frames / fps
    level = np.ones(n_frames)
    if fade_in > 0:
        level = np.minimum(level, t / fade_in)
    if fade_out > 0:
        level = np.minimum(level, (duration - t) / fade_out)
    return np.rint(np.clip(level, 0, 1) * _ONE).astype(np.int32)
