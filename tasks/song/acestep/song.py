"""The Song an ACE-Step job made: what the server reports it used, and where that differs from what was asked.

Real servers substitute quietly (contract §4.3, §5.3): f30aee4 ignores the seed and reports
another one; in simple mode the LM's length replaces the requested duration; a cover is as long
as its source; an unknown model becomes the primary one; an audio format the server does not
have becomes FLAC. None of that is an error, but none of it may be silent either: each becomes a
line in `Song.warnings` (the manifest, the dashboard artifact and the terminal show them). The
seed the server reports is recorded as the song's seed, beside the seed that was asked.

With `--takes N` every audio is a Take of the Song (the lyrics step picks the best one); with
`--batch-size N --pick K` the K-th audio is the song and the others are extra files.
"""

from __future__ import annotations

from pathlib import Path

from mvflow.audio import audio_duration
from mvflow.errors import AceStepError
from mvflow.files import write_json_atomic
from mvflow.models import FileArtifact, Song, SongRequest, Take
from mvflow.song.acestep.options import AceStepOptions, format_suffix
from mvflow.song.acestep.payload import metas_of, seed_at, sung_text, vocals_expected

#: A length off by more than this (seconds, or this fraction of the request) is a substitution worth saying.
DURATION_SLACK_S = 1.0
DURATION_SLACK = 0.1


def duration_warning(made: float, request: SongRequest, options: AceStepOptions) -> str | None:
    """A line when the audio's length is not the one asked for, with the reason the server has for it."""
    asked = request.duration
    if abs(made - asked) <= max(DURATION_SLACK_S, DURATION_SLACK * asked):
        return None
    if options.task_type == "cover":
        why = "a cover is as long as its source"
    elif options.description:
        why = "in simple mode (-d) the server's LM chooses the length"
    else:
        why = "the server chose another length"
    return f"ACE-Step made {made:.1f} s of audio instead of the {asked:g} s asked ({why})"


def seed_warning(reported: list[int | None], requested: list[int]) -> str | None:
    """A line when the server reports other seeds than the ones asked (f30aee4 ignores seeds)."""
    if not reported or all(r is None for r in reported) or reported == requested:
        return None
    shown = ", ".join(str(r) for r in reported if r is not None)
    return (f"ACE-Step did not use the requested seed {requested[0]} (it reports {shown}): servers like upstream "
            "f30aee4 ignore seeds, so this song cannot be made again from its seed")


def model_warning(entry: dict, options: AceStepOptions) -> str | None:
    """A line when the server says it generated with another DiT model than the one asked."""
    used = entry.get("dit_model")
    if options.model and isinstance(used, str) and used and used != options.model:
        return f"ACE-Step generated with model {used!r}, not the {options.model!r} asked (unknown models fall " \
               "back to the primary one)"
    return None


def format_warning(audio: FileArtifact, options: AceStepOptions) -> str | None:
    suffix = Path(audio.path).suffix.lower()
    if suffix and suffix != format_suffix(options.audio_format):
        return f"ACE-Step saved {suffix[1:]} instead of the {options.audio_format} asked"
    return None


def unique(lines: list[str | None]) -> list[str]:
    """The lines that are set, each once, in order."""
    return list(dict.fromkeys(line for line in lines if line))


def song_from_entries(entries: list[dict], audios: list[FileArtifact], record: dict, request: SongRequest,
                      options: AceStepOptions, out_dir: Path, warnings: list[str] | None = None) -> Song:
    """The Song of a finished native job: audio number `pick` (or take 1 until the takes are compared)."""
    if options.pick > len(audios):
        raise AceStepError(f"--pick {options.pick} but ACE-Step returned {len(audios)} audio(s)")
    with_audio = [e for e in entries if e.get("file")]
    takes = [take_of(i, entry, audio, request, options) for i, (entry, audio) in enumerate(zip(with_audio, audios))]
    chosen = options.pick - 1
    entry, take = with_audio[chosen], takes[chosen]
    requested = [request.seed + i for i in range(len(takes))]
    notes = unique([*(warnings or []), *sung_text(entry, request, options)[2],
                    seed_warning([t.seed for t in takes], requested), model_warning(entry, options),
                    format_warning(take.audio, options), duration_warning(take.duration, request, options)])
    metas = metas_of(entry)
    return Song(
        audio=take.audio,
        result=write_json_atomic(Path(out_dir) / "result.json", {**record, "picked": options.pick}),
        caption=take.caption,
        lyrics=take.lyrics,
        duration=take.duration,
        bpm=metas["bpm"] or request.bpm,
        key_scale=metas["key_scale"] or request.key_scale,
        time_signature=metas["time_signature"] or request.time_signature,
        engine="acestep",
        seed=take.seed,
        seed_requested=requested[chosen],
        warnings=notes,
        vocals_expected=vocals_expected(request, options),
        extra_files=[a for i, a in enumerate(audios) if i != chosen],
        takes=takes if options.takes else [],
    )


def take_of(index: int, entry: dict, audio: FileArtifact, request: SongRequest, options: AceStepOptions) -> Take:
    caption, lyrics, _ = sung_text(entry, request, options)
    return Take(number=index + 1, audio=audio, caption=caption, lyrics=lyrics,
                duration=audio_duration(audio.path), seed=seed_at(entry.get("seed_value"), index))
