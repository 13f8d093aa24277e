"""Crash safety: `mvflow make` killed with SIGKILL during each step, then run again.

One song goes through the whole story, in order (each test continues the previous one's
output folder): killed while polling ACE-Step, killed while transcribing, killed while the
cover is made, killed mid-encode, and finally run to the end. After every kill the next run
must re-use every step that had finished (same bytes, same mtime: not rewritten), never
submit the song to the server a second time, and never take a half-written file for a
finished one. The services are local: the built-in ACE-Step server, OpenAI's and Gemini's
stand-ins, with gates that hold their answers until the test has killed the run.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from mvflow.models import sha256_of
from mvflow.song.devserver.jobs import FaultPlan
from mvflow.song.devserver.server import start_in_thread
from tests.support.crash_harness import (
    GatedGemini,
    GatedOpenAI,
    MakeCommand,
    acestep_stats,
    file_state,
    finished_files,
    kill_group,
    partial_files,
    set_faults,
    wait_for,
)
from tests.support.media import stream_durations
from tests.support.stt_servers import OpenAISttServer

pytestmark = pytest.mark.e2e

LYRICS = "[Verse]\nHello city lights tonight\nWe are running through the rain\n"
KEYS = {"ACESTEP_API_KEY": "crash-acestep-key", "OPENAI_API_KEY": "crash-openai-key",
        "GEMINI_API_KEY": "crash-gemini-key"}
FPS = 10


class Story:
    """The song's output folder, the services and what earlier kills left behind."""

    def __init__(self, root: Path, acestep: str, openai: GatedOpenAI, gemini: GatedGemini, env: dict) -> None:
        self.root, self.acestep, self.openai, self.gemini = root, acestep, openai, gemini
        (root / "lyrics.txt").write_text(LYRICS, encoding="utf-8")
        self.make = MakeCommand(
            ["-c", "dream pop, night", "--lyrics", "lyrics.txt", "--title", "Crash Song", "--duration", "8",
             "--bpm", "120", "--seed", "7", "--engine", "acestep", "--api-url", acestep, "--no-thinking",
             "--transcriber", "openai", "--cover-provider", "gemini", "--resolution", "320x180",
             "--fps", str(FPS), "-o", "out"], env, root)
        self.song = root / "out" / "crash-song"
        self.finished: dict[Path, tuple[str, int]] = {}  # files of finished steps -> (sha256, mtime)

    def jobs(self) -> dict:
        return acestep_stats(self.acestep, KEYS["ACESTEP_API_KEY"])

    def remember(self, pattern: str) -> list[Path]:
        """Record the files of a step that has finished, to check later runs leave them alone."""
        found = finished_files(self.song, pattern)
        assert found, f"no {pattern} in {self.song}"
        self.finished.update({p: file_state(p) for p in found})
        return found

    def assert_finished_untouched(self) -> None:
        for path, state in self.finished.items():
            assert file_state(path) == state, f"{path} was rewritten"


def complete_records(results: Path) -> int:
    """Result records Prefect has written in full. It writes a record in place, so a file seen the moment it
    appears can still be empty: a run killed then leaves a record the next run cannot read, and re-runs the step."""
    count = 0
    for path in results.iterdir():
        try:
            json.loads(path.read_bytes())
        except (OSError, ValueError):
            continue
        count += 1
    return count


@pytest.fixture(scope="module")
def story(prefect_harness, tmp_path_factory):
    from prefect.settings import PREFECT_API_URL

    root = tmp_path_factory.mktemp("crash")
    url, stop = start_in_thread(api_key=KEYS["ACESTEP_API_KEY"], audio_dir=root / "server_audio", admin=True)
    with GatedOpenAI(KEYS["OPENAI_API_KEY"], LYRICS.split()[1:]) as openai, GatedGemini() as gemini:
        env = {**os.environ, **KEYS, "PREFECT_API_URL": PREFECT_API_URL.value(),
               "OPENAI_BASE_URL": openai.base_url, "MVFLOW_GEMINI_BASE_URL": gemini.url,
               "GOOGLE_GEMINI_BASE_URL": "http://127.0.0.1:9", "XDG_CONFIG_HOME": str(root / "xdg")}
        yield Story(root, url, openai, gemini, env)
    stop()


def test_killed_while_polling_the_song_the_task_id_was_already_kept(story):
    set_faults(story.acestep, KEYS["ACESTEP_API_KEY"], job_delay=4.0)  # a slow job: still running when killed
    proc = story.make.start()
    wait_for(lambda: story.jobs()["running"] == 1, 120, "the ACE-Step job to start", proc)
    wait_for(lambda: list(story.song.glob("song-*/submission.json")), 30, "submission.json", proc)
    kill_group(proc)
    set_faults(story.acestep, KEYS["ACESTEP_API_KEY"], job_delay=0.0)
    assert story.jobs()["total"] == 1
    assert not finished_files(story.song, "song-*/song_*")  # no audio was downloaded yet


def test_killed_while_transcribing_the_song_is_kept_and_not_submitted_again(story):
    story.openai.gate.arm()
    story.gemini.gate.arm()  # the cover, made meanwhile, must not finish either
    proc = story.make.start()
    wait_for(story.openai.gate.arrived.is_set, 120, "the transcription request", proc)
    kill_group(proc)
    story.openai.gate.open()
    story.gemini.gate.open()
    assert "freed the 'songs-127.0.0.1:" in proc.stderr_text, proc.stderr_text[-3000:]  # the killed run's slot
    assert story.jobs()["total"] == 1, "the song was submitted to the server twice"
    audio = story.remember("song-*/song_*")
    story.remember("song-*/result.json")
    assert all(p.suffix == ".mp3" for p in audio)
    assert not finished_files(story.song, "lyrics-*/lyrics.lrc")


def test_killed_while_making_the_cover_lyrics_are_kept(story):
    story.gemini.gate.arm()
    results = story.root / "out" / ".prefect-results"
    before = complete_records(results)
    proc = story.make.start()
    wait_for(story.gemini.gate.arrived.is_set, 120, "the cover request", proc)
    # The lyrics step has finished when its result is stored (its files alone could be a step cut short).
    wait_for(lambda: complete_records(results) > before, 60, "the lyrics step's stored result", proc)
    transcriptions = len(story.openai.requests)
    kill_group(proc)
    story.gemini.gate.open()
    story.assert_finished_untouched()
    assert story.jobs()["total"] == 1
    story.remember("lyrics-*/lyrics.*")
    assert not finished_files(story.song, "cover-*/*.png")
    story.transcriptions = transcriptions


def test_killed_mid_encode_leaves_only_a_temp_file(story):
    proc = story.make.start()
    partial = wait_for(lambda: [p for p in partial_files(story.song) if p.suffix == ".mp4" and p.stat().st_size],
                       180, "a partly encoded MP4", proc)
    os.killpg(proc.pid, signal.SIGSTOP)  # freeze the encoder where it is, then look
    assert not finished_files(story.song, "video-*/*.mp4") and not (story.song / "crash-song.mp4").exists()
    kill_group(proc)
    assert partial[0].exists()
    story.assert_finished_untouched()
    assert len(story.openai.requests) == story.transcriptions, "the lyrics were transcribed again"
    assert story.jobs()["total"] == 1
    story.remember("cover-*/*.png")
    story.covers = len(story.gemini.requests)


def test_the_run_after_the_crashes_completes_and_reuses_every_finished_step(story):
    done = story.make.run()
    assert done.returncode == 0, done.stderr[-3000:]
    steps = {line.split()[0]: line.split()[2] for line in done.stderr.splitlines()
             if line.startswith("  ") and len(line.split()) >= 4 and line.split()[-1] == "s"}
    assert steps == {"song-submit": "cached", "song": "cached", "lyrics": "cached", "thumbnail": "cached",
                     "analysis": "cached", "render": "ran"}, done.stderr[-3000:]
    story.assert_finished_untouched()
    assert story.jobs()["total"] == 1
    assert len(story.openai.requests) == story.transcriptions and len(story.gemini.requests) == story.covers

    mp4 = Path(done.stdout.strip().splitlines()[-1])
    manifest = json.loads((story.song / "manifest.json").read_text())
    for entry in manifest["files"]:
        path = story.song / entry["path"]
        assert sha256_of(path) == entry["sha256"] and path.stat().st_size == entry["size"], entry["path"]
    song_s = manifest["song"]["duration"]
    video_s, audio_s = stream_durations(mp4, FPS)
    assert abs(video_s - song_s) <= 0.1 and abs(audio_s - song_s) <= 0.1
    assert partial_files(story.song) == [], "temp files of the killed runs were left behind"


def test_without_a_prefect_server_a_killed_runs_song_slot_is_freed_by_the_next_run(tmp_path):
    """The default set-up: no PREFECT_API_URL, so each run starts its own temporary Prefect server, which
    dies with a killed run and takes the slot's lease with it; the slot stays counted in the database."""
    url, stop = start_in_thread(api_key=KEYS["ACESTEP_API_KEY"], audio_dir=tmp_path / "server_audio", admin=True,
                                faults=FaultPlan(job_delay=3.0))
    try:
        with OpenAISttServer(KEYS["OPENAI_API_KEY"], LYRICS.split()[1:]) as openai:
            env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
            env.update({**KEYS, "OPENAI_BASE_URL": openai.base_url, "PREFECT_HOME": str(tmp_path / "prefect-home"),
                        "XDG_CONFIG_HOME": str(tmp_path / "xdg")})
            (tmp_path / "lyrics.txt").write_text(LYRICS, encoding="utf-8")
            make = MakeCommand(["-c", "dream pop", "--lyrics", "lyrics.txt", "--title", "Alone", "--duration", "5",
                                "--engine", "acestep", "--api-url", url, "--no-thinking", "--transcriber", "openai",
                                "--cover-provider", "local", "--resolution", "320x180", "--fps", "8", "-o", "out"],
                               env, tmp_path)
            killed = make.start()
            wait_for(lambda: acestep_stats(url, KEYS["ACESTEP_API_KEY"])["running"] == 1, 180, "the song job",
                     killed)
            # killed between the server's answer and submission.json, a run cannot know its task (ACE-Step has
            # no idempotency key): kill it once the task is recorded, as the polling case above does
            wait_for(lambda: list(tmp_path.glob("out/alone/song-*/submission.json")), 30, "submission.json", killed)
            kill_group(killed)
            done = make.run(timeout=300)
            jobs_total = acestep_stats(url, KEYS["ACESTEP_API_KEY"])["total"]
    finally:
        stop()
    assert done.returncode == 0, done.stderr[-3000:]
    assert "freed the 'songs-127.0.0.1:" in done.stderr
    assert Path(done.stdout.strip().splitlines()[-1]).is_file()
    assert jobs_total == 1, "the song was submitted twice"
