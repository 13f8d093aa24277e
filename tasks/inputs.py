"""The user's input files and numbers, checked before any work starts.

A bad input found halfway through a run costs the work before it (a song generated, a
GPU job paid for) and can leave files behind; found up front it costs nothing. Every
check here raises `InputError` (a PermanentError: never retried, shown as one line) that
names the file or value and the fix. `flows/spec.py` runs them for `mvflow make`, batch
files and schedules; `mvflow transcribe` and `mvflow render` use the same helpers.

Bounds, and why:
- lyrics: at most MAX_LYRICS_LINES lines and MAX_LYRICS_CHARS characters. The longest
  song is 600 s, and a line takes about two seconds to sing, so 600 lines is already far
  more than any song sings; 10 000 lines took the built-in engine 190 s just to lay out.
- duration: MIN_DURATION..MAX_DURATION seconds (what the engines make, finite).
- frame size and rate: what the codec plays and what this machine's memory holds, checked
  with the render options (mvflow.render.limits, through mvflow.render.video.check_options).
"""

from __future__ import annotations

import math
from pathlib import Path

from mvflow.errors import InputError, PermanentError

MAX_LYRICS_LINES = 600
MAX_LYRICS_CHARS = 30_000
MIN_DURATION = 1.0
MAX_DURATION = 600.0
#: A caption is a style description and a title a name: anything longer is a pasted file, not a request.
MAX_CAPTION_CHARS = 2000
MAX_TITLE_CHARS = 200


def existing_file(path: Path | str, what: str, flag: str | None = None) -> Path:
    """`path` as a readable, non-empty regular file, else InputError ('what' names it for the user)."""
    p = Path(path).expanduser()
    hint = f" (check {flag})" if flag else ""
    if not p.exists():
        raise InputError(f"{what} not found: {path}{hint}")
    if not p.is_file():
        raise InputError(f"{what} {path} is not a file{hint}")
    try:
        size = p.stat().st_size
        with p.open("rb"):
            pass
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if size == 0:
        raise InputError(f"{what} {path} is empty (0 bytes)")
    return p


def read_text_file(path: Path | str, what: str, flag: str | None = None) -> str:
    """A UTF-8 text file's content (a BOM is dropped); binary or other encodings are refused."""
    p = existing_file(path, what, flag)
    try:
        return p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{what} {path} is not UTF-8 text (is it a binary file?)") from None


def check_lyrics(text: str, source: str = "lyrics") -> str:
    """Lyrics within bounds; `source` names where they came from (a file, stdin)."""
    lines = text.count("\n") + 1
    if lines > MAX_LYRICS_LINES or len(text) > MAX_LYRICS_CHARS:
        raise InputError(
            f"{source} are too long ({lines} lines, {len(text)} characters): a song takes at most "
            f"{MAX_LYRICS_LINES} lines and {MAX_LYRICS_CHARS} characters (the longest song is "
            f"{MAX_DURATION:.0f} s)"
        )
    if "\x00" in text:
        raise InputError(f"{source} contain NUL characters: give plain text")
    return text


def read_lyrics_file(path: Path | str, flag: str = "--lyrics") -> str:
    """A lyrics file: UTF-8 text, not empty (leave the option out for an instrumental), within bounds."""
    text = read_text_file(path, "lyrics file", flag)
    if not text.strip():
        raise InputError(f"lyrics file {path} has no text: leave out {flag} for an instrumental, or write [inst]")
    return check_lyrics(text, f"lyrics in {path}")


def check_text_field(value: str | None, name: str, limit: int) -> None:
    """A one-line text field (caption, title) of sensible length."""
    if value is not None and len(value) > limit:
        raise InputError(f"{name} is {len(value)} characters long; at most {limit} are accepted")


def check_duration(seconds: float | None) -> None:
    """A song length the engines can make: finite, MIN_DURATION..MAX_DURATION seconds."""
    if seconds is None:
        return
    if not math.isfinite(seconds) or not MIN_DURATION <= seconds <= MAX_DURATION:
        raise InputError(
            f"duration must be between {MIN_DURATION:.0f} and {MAX_DURATION:.0f} seconds, got {seconds:g}"
        )


def song_time(value: float | str | None, name: str) -> float | None:
    """A time in the song given as seconds (75, "75.5") or minutes:seconds ("1:15.5"); None stays None."""
    if value is None or isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = value
    else:
        text = str(value).strip()
        try:
            minutes, _, rest = text.rpartition(":")
            seconds = (int(minutes) * 60 if minutes else 0) + float(rest)
        except ValueError:
            raise InputError(f"{name} must be seconds or m:ss (e.g. 75 or 1:15), not {value!r}") from None
    if seconds is not None and (not math.isfinite(seconds) or seconds < 0):
        raise InputError(f"{name} must be a time in the song (0 or more seconds), not {value!r}")
    return None if seconds is None else float(seconds)


def check_short_range(start: float | None, end: float | None) -> None:
    """--short-from and --short-to go together, the start before the end."""
    if (start is None) != (end is None):
        raise InputError("give both --short-from and --short-to (seconds or m:ss), or neither for the first chorus")
    if start is not None and end is not None and start >= end:
        raise InputError(f"--short-from {start:g} must be before --short-to {end:g}")


def check_short_start(start: float, duration: float) -> None:
    """--short-from inside a song of `duration` s: the song made, or its length asked for up front."""
    if start < 0:
        raise InputError(f"--short-from must be a time in the song (0 or more seconds), not {start:g}")
    if start >= duration:
        raise InputError(f"--short-from {start:g} s is past the song's end ({round(duration, 1):g} s)")


def check_key_and_meter(key: str | None, time_signature: str | None) -> None:
    """Key and time signature in a form the engines read ('A minor', 'F#m'; 2, 3, 4, 6, 3/4, 6/8)."""
    from mvflow.song.theory import parse_key, parse_time_signature

    try:
        if key is not None:
            parse_key(key)
        if time_signature is not None:
            parse_time_signature(time_signature)
    except ValueError as exc:
        raise InputError(str(exc)) from None


def check_audio_file(path: Path | str, what: str = "audio file", flag: str | None = None) -> float:
    """An audio file ffmpeg decodes to more than zero samples; returns its length in seconds."""
    from mvflow.audio import audio_duration

    p = existing_file(path, what, flag)
    try:
        seconds = audio_duration(p)
    except ValueError:
        seconds = -1.0
    if seconds < 0:
        raise InputError(f"cannot read audio from {path}: it is not audio ffmpeg decodes (mp3, wav, flac, ogg ...)")
    if seconds == 0:
        raise InputError(f"{what} {path} holds no sound (0 samples)")
    return seconds


def check_image_file(path: Path | str, what: str = "cover image", flag: str = "--cover") -> Path:
    """An image Pillow decodes completely and large enough to fill a video frame."""
    from mvflow.cover.user_image import load_user_image

    p = existing_file(path, what, flag)
    try:
        load_user_image(p)
    except PermanentError as exc:
        raise InputError(str(exc)) from None
    return p


def check_lrc_file(path: Path | str, flag: str = "--lrc") -> Path:
    """An LRC file that parses (the error names the bad line) and holds at least one timed line."""
    from mvflow.errors import LrcError
    from mvflow.lyrics.formats import parse_lrc

    text = read_text_file(path, "LRC file", flag)
    check_lyrics(text, f"lyrics in {path}")
    try:
        lines = parse_lrc(text)
    except LrcError as exc:
        raise InputError(f"{path}: {exc}") from None
    if not lines:
        raise InputError(f"LRC file {path} has no timed lyric lines ([mm:ss.xx]text)")
    return Path(path).expanduser()


def check_output_folder(path: Path | str) -> Path:
    """An output folder that can be created and written, tested by creating (and removing) a file in
    its nearest existing ancestor, so a dry run leaves no folder behind."""
    import tempfile

    target = Path(path).expanduser().absolute()
    ancestor = target
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise InputError(f"cannot use output folder {path}: {ancestor} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=ancestor, prefix=".mvflow-write-test-"):
            pass
    except OSError as exc:
        raise InputError(f"cannot write to output folder {path} ({ancestor}: {exc.strerror or exc}); "
                         "choose another with --output-dir") from None
    return target
