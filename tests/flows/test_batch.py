"""Batches: validation before anything runs, one failing song never sinking the rest, the song
server's concurrency limit holding, the cache skipping finished songs, and `mvflow serve`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from mvflow.cli import app
from mvflow.errors import BatchError
from mvflow.flows.batch import load_batch
from tests.support import slow_engine

SHORT = {"duration": 5, "resolution": "128x72", "fps": 8, "transcriber": "local"}
SONGS = [
    {"title": "Rain", "caption": "calm piano, rain", "lyrics": "[Verse]\nRain is falling down\n"},
    {"title": "Neon", "caption": "synth pop, night", "lyrics": "[Verse]\nNeon lights tonight\n", "duration": 6},
    {"title": "Broken", "caption": "lofi beat", "lyrics": "[Verse]\nThis one will fail\n",
     "whisper_model": "/nonexistent-whisper-model"},
    {"title": "Summit", "caption": "epic rock anthem", "lrc": "summit.lrc"},  # one line past the song's end
    {"title": "Tide", "caption": "jazz trio, sea", "lyrics": "[Verse]\nThe tide comes in\n", "duration": 6},
]


def write_batch(folder: Path, songs: list[dict], name: str = "test-batch", **defaults) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "defaults": {**SHORT, **defaults}, "songs": songs}))
    return path


def problems(path: Path, **kwargs) -> list[str]:
    with pytest.raises(BatchError) as info:
        load_batch(path, **kwargs)
    return info.value.problems


# ---------------------------------------------------------------- validation (no Prefect)


def test_every_bad_entry_is_reported_with_its_number_title_and_field(no_config):
    path = write_batch(no_config, [
        {"title": "Rain", "caption": "piano", "bpm": "fast"},
        {"caption": "lofi", "colour": "red"},
        {"title": "Fine", "caption": "ok"},
        {"title": "Lost", "caption": "x", "lyrics_file": "missing.txt"},
        {"title": "Tiny", "caption": "x", "resolution": "big"},
    ], name="songs")
    assert problems(path) == [
        "songs.yaml: song 1 (title 'Rain'): bpm: Input should be a valid integer, unable to parse string as an integer",
        "songs.yaml: song 2 (caption 'lofi'): colour: unknown field",
        f"songs.yaml: song 4 (title 'Lost'): lyrics file not found: {no_config / 'missing.txt'}",
        "songs.yaml: song 5 (title 'Tiny'): resolution must look like 1920x1080, 1080p or 720p, not 'big'",
    ]


def test_csv_rows_are_numbered_like_a_spreadsheet(no_config):
    path = no_config / "songs.csv"
    path.write_text("title,caption,bpm,duration\nA,pop,120,5\nB,rock,slow,5\nC,,100,5\n")
    assert problems(path) == [
        "songs.csv: row 3 (title 'B'): bpm: Input should be a valid integer, unable to parse string as an integer",
        "songs.csv: row 4 (title 'C'): caption is required: the style of the song, e.g. 'dreamy synthwave, "
        "female vocal' (or an idea: what the song is about, for a songwriter to write)",
    ]


def test_bad_defaults_and_clashing_titles_are_errors(no_config):
    assert problems(write_batch(no_config, [{"caption": "a"}], fps="fast")) == [
        "test-batch.yaml: defaults: fps: Input should be a valid integer, unable to parse string as an integer"]
    clash = problems(write_batch(no_config, [{"title": "Rain", "caption": "a"}, {"title": "rain!", "caption": "b"}]))
    assert len(clash) == 1 and "song 1 and song 2 both write" in clash[0] and "different title" in clash[0]


@pytest.mark.parametrize(("text", "message"), [
    ("songs: [1, 2]", "'songs' must be a list of song requests"),
    ("name: x\nsong: []", "unknown key(s) ['song']"),
    ("songs: [", "not valid YAML"),
])
def test_malformed_files_say_what_is_wrong(no_config, text, message):
    path = no_config / "b.yaml"
    path.write_text(text)
    assert message in problems(path)[0]


def test_relative_paths_are_read_from_the_batch_folder_and_csv_defaults_from_a_sibling(no_config):
    folder = no_config / "channel"
    folder.mkdir()
    (folder / "words.txt").write_text("[Verse]\nFrom a file\n")
    (folder / "week.csv").write_text("title,caption,lyrics_file,bpm\nOne,pop,words.txt,100\nTwo,rock,,\n")
    (folder / "week.defaults.yaml").write_text("name: weekly\ndefaults: {duration: 7, output_dir: out}\n")
    batch = load_batch(folder / "week.csv")
    assert batch.name == "weekly" and [s.title for s in batch.songs] == ["One", "Two"]
    one, two = (s.params for s in batch.songs)
    assert one["request"].lyrics.startswith("[Verse]\nFrom a file") and one["request"].bpm == 100
    assert two["request"].lyrics == "" and two["request"].duration == 7
    assert one["output_root"] == str(folder / "out")
    overridden = load_batch(folder / "week.csv", output_dir="elsewhere")
    assert overridden.songs[0].params["output_root"] == str(no_config / "elsewhere")


def test_json_batches_read_like_yaml(no_config):
    path = no_config / "songs.json"
    path.write_text(json.dumps({"defaults": {"duration": 9}, "songs": [{"title": "A", "caption": "pop"}]}))
    batch = load_batch(path)
    assert batch.name == "songs" and batch.songs[0].params["request"].duration == 9


def test_the_shipped_example_is_valid(no_config):
    example = Path(__file__).resolve().parents[2] / "templates" / "batch_example.yaml"
    assert len(load_batch(example).songs) >= 3
    result = CliRunner().invoke(app, ["batch", str(example), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "Night Drive" in result.output


def test_cli_prints_every_problem_and_runs_nothing(no_config):
    path = write_batch(no_config, [{"title": "A", "caption": "x", "bpm": "x"}, {"title": "B", "caption": "y",
                                                                               "fps": "z"}])
    result = CliRunner().invoke(app, ["batch", str(path)])
    assert result.exit_code == 1
    assert "song 1 (title 'A'): bpm" in result.output and "song 2 (title 'B'): fps" in result.output
    assert not (no_config / "mvflow_output").exists()


# ---------------------------------------------------------------- running (Prefect harness)


@pytest.fixture(scope="module")
def batch_run(prefect_harness, tmp_path_factory):
    """The 5-song batch (one made to fail at run time, in its lyrics step) run once through `mvflow batch`."""
    folder = tmp_path_factory.mktemp("batch")
    (folder / "summit.lrc").write_text("[00:01.00]On the summit\n[01:30.00]Long after the end\n")
    path = write_batch(folder, SONGS, output_dir="out")
    result = CliRunner().invoke(app, ["batch", str(path)])
    return path, result


@pytest.mark.e2e
def test_one_failing_song_does_not_stop_the_others(batch_run):
    path, result = batch_run
    assert result.exit_code == 1, result.output
    assert "5 songs" in result.output and "4 made" in result.output and "1 failed" in result.output
    assert ("failed: Broken — lyrics: whisper model directory not found: "
            "/nonexistent-whisper-model") in result.output
    for title in ("rain", "neon", "summit", "tide"):
        assert (path.parent / "out" / title / f"{title}.mp4").is_file()
        assert (path.parent / "out" / title / "manifest.json").is_file()
    assert not (path.parent / "out" / "broken" / "broken.mp4").exists()


@pytest.mark.e2e
def test_lyric_lines_past_a_songs_end_are_warned_about_before_and_after_it_runs(batch_run):
    path, result = batch_run
    said = " ".join(result.output.split())
    line = "1 lyric line starts after the song ends (00:05.00) and never shows: [01:30.00] 'Long after the end'"
    assert f"warning: test-batch.yaml: song 4 (title 'Summit'): {line}" in said  # when the file is validated
    assert f"warning: Summit: {line}" in said  # in the summary, from the real audio
    manifest = json.loads((path.parent / "out" / "summit" / "manifest.json").read_text())
    assert [(o["text"], o["where"]) for o in manifest["lyrics"]["outside"]] == [("Long after the end", "after_end")]


@pytest.mark.e2e
def test_dashboard_gets_run_names_tags_and_artifacts(batch_run, capsys):
    """The same read-back as benchmarks/dashboard_check.py, against the session's server."""
    from prefect.logging.handlers import APILogHandler
    from prefect.settings import PREFECT_API_URL

    from benchmarks.dashboard_check import Checks, check_api

    APILogHandler().flush()  # the run's last log lines are still queued in this process
    path, _ = batch_run
    checks = Checks()
    statuses = {song["title"]: "failed" if "whisper_model" in song else "done" for song in SONGS}
    check_api(PREFECT_API_URL.value(), checks, yaml.safe_load(path.read_text()), statuses)
    assert checks.failed == 0, capsys.readouterr().out


@pytest.mark.e2e
def test_running_the_batch_again_skips_finished_songs(batch_run):
    from mvflow.flows.batch import music_video_batch

    path, _ = batch_run
    state = music_video_batch(batch_file=str(path), return_state=True)
    report = state.result(raise_on_failure=False)
    assert {s.title: s.status for s in report.songs} == {
        "Rain": "cached", "Neon": "cached", "Broken": "failed", "Summit": "cached", "Tide": "cached"}
    assert report.failed[0].reason.startswith("lyrics: whisper model directory not found")


def run_slow_batch(folder: Path, titles: list[str], limit: int) -> list[tuple[float, float]]:
    """A batch of instrumental songs on the slow engine; returns when each song was generating."""
    from mvflow.flows.batch import music_video_batch

    record = folder / "intervals.txt"
    path = write_batch(folder, [{"title": t, "caption": f"ambient {t}", "duration": 3} for t in titles],
                       name=f"slow-{limit}", engine="slow", output_dir="out")
    os.environ["MVFLOW_TEST_INTERVALS"] = str(record)
    try:
        state = music_video_batch(batch_file=str(path), max_concurrent_songs=limit, return_state=True)
    finally:
        del os.environ["MVFLOW_TEST_INTERVALS"]
    assert state.is_completed(), state.message
    return slow_engine.intervals(record)


@pytest.mark.e2e
def test_song_generation_waits_for_the_prefect_limit(prefect_harness, no_config, monkeypatch, caplog):
    """Limit 1: never two songs generating at once — and none while another process holds the slot."""
    from prefect.concurrency.sync import concurrency

    import mvflow.song
    from mvflow.song import ensure_song_limit

    monkeypatch.setattr(mvflow.song, "SLOT_WAIT_NOTICE_SECONDS", 1)
    slow_engine.register()
    ensure_song_limit("songs-slow", 1)
    spans: list[tuple[float, float]] = []
    worker = threading.Thread(target=lambda: spans.extend(run_slow_batch(no_config, ["a", "b", "c"], 1)))
    with concurrency("songs-slow", occupy=1, strict=True):  # someone else's song holds the server
        worker.start()
        time.sleep(4)
        released = time.time()
    worker.join(timeout=300)
    assert len(spans) == 3
    assert min(start for start, _ in spans) >= released
    assert slow_engine.overlaps(spans) == 0
    assert "`prefect gcl update songs-slow --active-slots 0`" in caplog.text  # said what it waits for


@pytest.mark.e2e
def test_a_higher_limit_lets_songs_generate_together(prefect_harness, no_config, monkeypatch):
    # long generations: under load a slot request can wait a few seconds on the server's SQLite
    monkeypatch.setenv("MVFLOW_TEST_SLOW_SECONDS", "6")
    slow_engine.register()
    spans = run_slow_batch(no_config, ["x", "y"], 2)
    assert slow_engine.overlaps(spans) == 1


# ---------------------------------------------------------------- scheduling


@pytest.mark.e2e
def test_serve_registers_the_cron_schedule_and_stops(prefect_harness, no_config):
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    path = write_batch(no_config, SONGS[:2], name="nightly")
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    serve = subprocess.Popen(
        [str(Path(sys.executable).parent / "mvflow"), "serve", str(path), "--cron", "0 9 * * *",
         "--timezone", "Europe/Berlin", "--name", "nightly-test"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(serve.stdout), daemon=True).start()
    try:
        deployment = wait_for_deployment("music_video_batch/nightly-test", serve)
        schedule = deployment.schedules[0].schedule
        assert (schedule.cron, schedule.timezone) == ("0 9 * * *", "Europe/Berlin")
        assert deployment.parameters["batch_file"] == str(path) and "batch:nightly" in deployment.tags
        assert deployment.schedules[0].active and not deployment.paused
        wait_for(lambda: any("being served" in line for line in lines), "the runner to start")
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=60)
    output = "".join(lines)
    assert "schedule of music_video_batch/nightly-test is paused" in output, output
    with get_client(sync_client=True) as client:
        assert client.read_deployment_by_name("music_video_batch/nightly-test").paused, output


def wait_for(condition, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def wait_for_deployment(name: str, process: subprocess.Popen, timeout: float = 120):
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            assert process.poll() is None, "mvflow serve exited early"
            try:
                return client.read_deployment_by_name(name)
            except ObjectNotFound:
                time.sleep(0.5)
    raise AssertionError(f"deployment {name} was not registered within {timeout} s")
