"""Step 0 — write the song: an idea in, a validated song plan out (`mvflow make --idea`, `mvflow write`).

The plan (title, caption, tagged lyrics, bpm, key, time signature, duration, language) is
written by a songwriter (mvflow.songwriting.providers: a chat model through the openai SDK,
or the ACE-Step server's LM), checked (mvflow.songwriting.checks), repaired once if it had
problems, and saved as plan.json + lyrics.txt in a folder named by a hash of its inputs:
the idea and its constraints, the songwriter, its model and server, and the prompt
template's text. The values the user gave are already laid over it; the flow then makes the
song from it (SongPlan.applied_to).

A plan already written into its folder (by `mvflow write`, or by a run killed before
Prefect stored the result) is read back instead of asking the songwriter again: the same
inputs keep the same words. A new --seed, or an edited prompt, writes a new plan.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

from prefect import task
from prefect.logging import get_run_logger
from pydantic import ValidationError

from mvflow.files import step_dir, write_json_atomic, write_text_atomic
from mvflow.models import FileArtifact, SongIdea, SongPlan, SongwriterOptions
from mvflow.retries import STEP_CACHE_POLICY, retry_options
from mvflow.songwriting.providers import SONGWRITERS, write_draft
from mvflow.songwriting.sheet import read_sheet

PLAN_FILE = "plan.json"
LYRICS_FILE = "lyrics.txt"


def plan_dir(idea: SongIdea, out_dir: Path | str, options: SongwriterOptions) -> Path:
    """The plan's folder: <out_dir>/plan-<hash of the idea, its constraints and the songwriter options>."""
    return step_dir(out_dir, "plan", idea, options)


def make_plan(idea: SongIdea, out_dir: Path | str, options: SongwriterOptions,
              warn: Callable[[str], None] | None = None) -> SongPlan:
    """The plan for `idea`: read back from its folder when already written there, else written now."""
    folder = plan_dir(idea, out_dir, options)
    found = written_plan(folder)
    if found is not None:
        logging.getLogger(__name__).info("using the plan already written in %s", folder)
        return found
    writer = SONGWRITERS.get(options.provider)
    fields, notes, repaired = write_draft(writer.conversation(idea, options), idea,
                                         f"{options.provider} ({options.model})", warn)
    sheet = read_sheet(fields["lyrics"])
    plan = {**fields, "lyrics": sheet.text().strip(), "instrumental": idea.instrumental or not sheet.sung_lines,
            "idea": idea.idea, "provider": options.provider, "model": options.model,
            "given": sorted(idea.given()), "repaired": repaired, "notes": notes}
    lyrics_file = write_text_atomic(folder / LYRICS_FILE, plan["lyrics"] + "\n")
    plan_file = write_json_atomic(folder / PLAN_FILE, plan)
    return SongPlan(**plan, plan_file=plan_file, lyrics_file=lyrics_file)


def written_plan(folder: Path) -> SongPlan | None:
    """The plan in `folder` when plan.json reads as one and lyrics.txt exists; else None (write it anew).

    lyrics.txt is not compared with the plan: a user may have edited it to pass back with
    --lyrics, and mvflow never overwrites that edit.
    """
    plan_path, lyrics_path = folder / PLAN_FILE, folder / LYRICS_FILE
    if not (plan_path.is_file() and lyrics_path.is_file()):
        return None
    try:
        fields = json.loads(plan_path.read_text(encoding="utf-8"))
        return SongPlan(**fields, plan_file=FileArtifact.from_path(plan_path),
                        lyrics_file=FileArtifact.from_path(lyrics_path))
    except (OSError, ValueError, TypeError, ValidationError):
        return None


@task(
    name="write_song",
    task_run_name="write_song [{options.provider}]",
    cache_policy=STEP_CACHE_POLICY,
    **retry_options(),
)
def write_song(idea: SongIdea, out_dir: str, options: SongwriterOptions) -> SongPlan:
    """Write (or read back) the song plan for an idea; its problems and repairs are logged."""
    logger = get_run_logger()
    logger.info("writing a song plan for %r with %s (%s)", idea.idea, options.provider, options.model)
    plan = make_plan(idea, out_dir, options, warn=logger.warning)
    sung = "instrumental" if plan.instrumental else f"{len(read_sheet(plan.lyrics).sung_lines)} sung lines"
    logger.info("plan %r: %g s at %d bpm, %s, time signature %s, language %s, %s%s", plan.title, plan.duration,
                plan.bpm, plan.key_scale, plan.time_signature, plan.language, sung,
                " (repaired)" if plan.repaired else "")
    for note in plan.notes:
        logger.warning("plan note: %s", note)
    return plan
