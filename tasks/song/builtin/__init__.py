"""The built-in offline song engine `local` (`--engine local`, the default).

A procedural arrangement (structure -> bars -> drums, bass, chords) with an espeak-ng voice
singing the lyrics in key and on the beat; no network, no GPU. `engine.generate_local_song`
is the entry point; the other modules are its parts (arrange, harmony, melody, phrasing,
backing, voice, psola, vocals, mixdown, params, espeak). The development server
(mvflow.song.devserver) uses it to stand in for ACE-Step's model.

`ENGINE` (below) is what the song engine registry (mvflow.song.engines) resolves "local" to;
the engine modules are imported when a song is made, so listing the engines stays cheap.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mvflow.models import Song, SongRequest
from mvflow.song.engines import Engine

if TYPE_CHECKING:
    from mvflow.registry import Check
    from mvflow.settings import Settings


class LocalEngine(Engine):
    """Generates in one call in this process; it needs espeak-ng (the `offline` extra) for the voice."""

    name = "local"
    description = "built-in, offline"

    #: Request fields the built-in engine reads (the others are other engines' and ignored here).
    FIELDS = ("vocal_style", "mix", "skip_lines")

    def request_options(self, fields: dict[str, Any], settings: Settings) -> dict[str, Any]:
        """The built-in engine's options among the given fields, checked now (one line when bad).
        Only the given ones: a request without them keeps the song's cache key it always had."""
        from mvflow.song.builtin.options import BuiltinOptions

        given = {key: fields[key] for key in self.FIELDS if key in fields}
        BuiltinOptions.from_request(SongRequest(caption="", engine_options=given))
        return given

    def generate(self, request: SongRequest, out_dir: Path) -> Song:
        from mvflow.song.builtin.engine import generate_local_song

        return generate_local_song(request, out_dir)

    def checks(self, settings: Settings) -> list[Check]:
        """The voice: espeak-ng loads and says at which sample rate."""
        try:
            from mvflow.song.builtin.espeak import espeak

            return [self.row(True, f"espeak-ng voice at {espeak().sample_rate} Hz")]
        except Exception as exc:  # noqa: BLE001 - doctor reports, never crashes
            return [self.row(False, f"{exc} (pip install -e '.[offline]')")]


ENGINE = LocalEngine()
