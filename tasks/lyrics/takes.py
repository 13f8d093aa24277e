"""The best take (`--takes N`): time the lyrics of every take and keep the one whose vocals carry them best.

Generated vocals sometimes skip lines; a take that skipped one makes a worse video than one that
sang them all. So the lyrics step, for a song with several takes, times the known lyrics on each
take with the same transcriber (the local forced alignment by default) and ranks them: fewest
lines unsung or unplaced first, then the highest mean confidence over all known lines (a skipped
line counts 0), then the earlier take. The chosen take becomes the song (its lyrics timing is the
lyrics step's result); the others stay as the song's extra files, and every take's score, with
the lines it skipped, goes to the song's `takes`, takes.json, the manifest and the dashboard.

Takes whose lyrics are unknown (the server did not report them) or instrumental cannot be
compared by their lyrics: then the first take is kept and each take's score stays empty.
"""

from __future__ import annotations

from pathlib import Path

from mvflow.files import step_dir, write_json_atomic
from mvflow.lyrics.align import known_lyric_lines
from mvflow.models import FileArtifact, LyricsOptions, Song, StepResult, SyncedLyrics, Take, TakeScore

#: The confidence a placed line counts with when its transcriber does not measure one.
UNMEASURED_CONFIDENCE = 0.5


class TakeChoice(StepResult):
    """The lyrics step's result for a song with takes: the chosen take as the song, and its lyrics."""

    song: Song
    lyrics: SyncedLyrics
    timings: list[SyncedLyrics]
    record: FileArtifact

    def own_files(self) -> list[FileArtifact]:
        return [self.record, *(f for timing in self.timings for f in timing.own_files())]


def take_song(song: Song, take: Take) -> Song:
    """The song as if `take` were its audio (what the lyrics step times for that take)."""
    return song.model_copy(update={"audio": take.audio, "caption": take.caption, "lyrics": take.lyrics,
                                   "duration": take.duration, "seed": take.seed})


def score_take(take: Take, timing: SyncedLyrics) -> TakeScore | None:
    """How well the take's vocals carry its known lyrics; None when it has none to compare by."""
    known = known_lyric_lines(take.lyrics)
    if not known or timing.source != "aligned":
        return None
    skipped = [*timing.unsung, *timing.unplaced]
    total = sum(line.confidence if line.confidence is not None else UNMEASURED_CONFIDENCE for line in timing.lines)
    return TakeScore(lines=len(known), placed=len(timing.lines), skipped=skipped,
                     confidence=round(total / len(known), 3))


def best_take(scores: list[TakeScore | None]) -> int:
    """The index of the best scored take (fewest skipped lines, then highest confidence, then the first)."""
    ranked = [(score.rank_key(), i) for i, score in enumerate(scores) if score is not None]
    return min(ranked)[1] if ranked else 0


def choose_take(song: Song, out_dir: Path | str, options: LyricsOptions, title: str | None = None) -> TakeChoice:
    """Time every take, pick the best, and return the song re-pointed at it with every take scored."""
    from mvflow.lyrics import make_lyrics

    timings = [make_lyrics(take_song(song, take), out_dir, options, title) for take in song.takes]
    scores = [score_take(take, timing) for take, timing in zip(song.takes, timings)]
    best = best_take(scores)
    takes = [take.model_copy(update={"score": score.model_copy(update={"chosen": i == best}) if score else None})
             for i, (take, score) in enumerate(zip(song.takes, scores))]
    chosen = takes[best]
    take_audio = {t.audio.path for t in takes}
    others = [t.audio for t in takes if t is not chosen]
    shift = chosen.number - song.takes[0].number
    picked = take_song(song, chosen).model_copy(update={
        "takes": takes,
        "extra_files": [*others, *(f for f in song.extra_files if f.path not in take_audio)],
        "seed_requested": song.seed_requested + shift if song.seed_requested is not None else None,
    })
    record = write_json_atomic(step_dir(out_dir, "takes", song.audio.sha256, [t.audio.sha256 for t in takes],
                                        options, title) / "takes.json",
                               {"chosen": chosen.number, "takes": [t.model_dump(mode="json") for t in takes]})
    return TakeChoice(song=picked, lyrics=timings[best], timings=timings, record=record)
