"""Options of the built-in `local` engine, carried in `SongRequest.engine_options`.

All of them change the audio, so all of them belong to the song's cache key. Defaults are
today's engine: a spoken espeak-ng line on the beat grid over a light, ducked backing.
Unknown keys are refused, so a typo ("vocal-style") fails in one line instead of being ignored.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from mvflow.errors import PermanentError, validation_line
from mvflow.models import SongRequest


class BuiltinOptions(BaseModel):
    """What a request may ask of the built-in engine beyond the SongRequest's own fields."""

    model_config = ConfigDict(extra="forbid")

    voice: str | None = Field(None, description="espeak-ng voice, e.g. 'en-us+f3' (default: the language's)")
    stems: bool = Field(False, description="Also write the voice and backing halves of the master as WAVs")
    vocal_style: Literal["spoken", "sung"] = Field(
        "spoken", description="spoken: one spoken word per grid step; sung: words held over eighth notes, "
                              "glides, vibrato, melisma")
    mix: Literal["light", "dense"] = Field(
        "light", description="light: mono-ish, backing ducked 12 dB under the voice; dense: no ducking, backing "
                             "as loud as the voice, a lead and pad in the vocal range, room reverb, wide stereo")
    skip_lines: list[int] = Field(
        default_factory=list, description="Lyric line numbers (1-based, lines with words) the singer skips: "
                                          "their bars are played, nobody sings")
    voice_to_backing_db: float = Field(
        0.0, ge=-20.0, le=30.0, description="mix 'dense' only: voice RMS over backing RMS while lines are sung")

    @field_validator("skip_lines")
    @classmethod
    def _positive_line_numbers(cls, value: list[int]) -> list[int]:
        bad = [n for n in value if n < 1]
        if bad:
            raise ValueError(f"line numbers start at 1 (got {bad[0]})")
        return sorted(set(value))

    @classmethod
    def from_request(cls, request: SongRequest) -> BuiltinOptions:
        """The request's engine options, validated; a bad option is one clear PermanentError line."""
        try:
            return cls.model_validate(request.engine_options)
        except ValidationError as exc:
            raise PermanentError(
                validation_line(exc, "bad built-in engine option {where}: {message}", "engine_options")) from exc
