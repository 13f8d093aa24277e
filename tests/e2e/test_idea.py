"""End to end from an idea: `mvflow make --idea` through a local OpenAI-compatible server and through the built-in
ACE-Step server's LM, a batch of three ideas, and the plan in manifest.json and the dashboard artifact."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from mvflow.cli import app
from mvflow.song.devserver.plan import LM_MODEL
from mvflow.songwriting.sheet import read_sheet
from tests.support.chat_server import ChatRequest, OpenAIChatServer
from tests.support.media import read_lrc

pytestmark = pytest.mark.e2e
MVFLOW = str(Path(sys.executable).parent / "mvflow")
SMALL = ["--resolution", "128x72", "--fps", "8", "--transcriber", "local"]
ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "MVFLOW_SONGWRITER_API_KEY", "MVFLOW_SONGWRITER_BASE_URL",
       "ACESTEP_API_KEY")


def short_plan(title: str, caption: str, lines: tuple[str, str, str]) -> dict:
    """A plan that fits 10 s at 120 bpm: three lines of at most four syllables, a bar each."""
    lyrics = f"[Intro]\n\n[Verse]\n{lines[0]}\n{lines[1]}\n\n[Chorus]\n{lines[2]}\n\n[Outro]"
    return {"title": title, "caption": caption, "lyrics": lyrics, "bpm": 120, "key_scale": "C major",
            "time_signature": "4", "duration": 10, "vocal_language": "en"}


PLANS = {
    "night driving": short_plan("Neon Road", "synthwave, analog synths, female vocal",
                                ("Lights go by", "Hands on the wheel", "Drive all night")),
    "a small town": short_plan("Leaving Home", "indie folk, acoustic guitar, male vocal",
                               ("Pack the car", "Wave goodbye", "Leaving home")),
    "the sea": short_plan("Blue Tide", "dream pop, reverb guitar, airy vocal",
                          ("Waves come in", "Salt on skin", "Blue tide")),
}


def plan_for(request: ChatRequest) -> dict:
    """The scripted plan whose idea the request is about (requests of a batch arrive in any order)."""
    user = request.text("user")
    return next(plan for idea, plan in PLANS.items() if idea in user)


@pytest.fixture
def chat(no_config, monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    with OpenAIChatServer(api_key=None, models=("llama3.1",)) as srv:
        srv.answer_always(plan_for)
        yield srv


def markdown_artifact(key: str) -> str:
    """The latest markdown artifact with this key, as the dashboard shows it (read through the API)."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        body = {"artifacts": {"key": {"any_": [key]}}, "sort": "CREATED_DESC", "limit": 1, "offset": 0}
        response = client._client.post("/artifacts/filter", json=body)
        response.raise_for_status()
        return response.json()[0]["data"]


def test_make_idea_through_an_openai_compatible_server(prefect_harness, chat, no_config):
    """The installed command, as a user runs it, with its songwriter on a local server (like Ollama)."""
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "MVFLOW_SONGWRITER_BASE_URL": chat.base_url}
    result = subprocess.run([MVFLOW, "make", "--idea", "a synthwave song about night driving", "--duration", "10",
                             *SMALL, "-o", "out"], capture_output=True, text=True, env=env, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = no_config / "out" / "a-synthwave-song-about-night-driving"
    mp4 = Path(result.stdout.strip().splitlines()[-1])
    assert mp4.is_file() and mp4.name == "neon-road.mp4" and mp4.is_relative_to(folder)
    assert f"  {'write':<13} {'openai':<12} ran" in result.stderr and "plan: " in result.stderr

    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["title"] == "Neon Road" and manifest["plan"]["songwriter"] == "openai"
    assert manifest["plan"]["model"] == "llama3.1" and manifest["plan"]["given"] == ["duration"]
    roles = {entry["role"]: entry for entry in manifest["files"]}
    assert roles["plan"]["step"] == "write" and roles["plan"]["made_by"] == "openai"
    assert (folder / roles["plan_lyrics"]["path"]).read_text().strip() == PLANS["night driving"]["lyrics"]
    assert manifest["request"]["caption"] == "synthwave, analog synths, female vocal"
    assert (manifest["request"]["bpm"], manifest["request"]["duration"]) == (120, 10)
    sung = [text for _, text in read_lrc(next(folder.glob("lyrics-*/lyrics.lrc")))]
    assert sung == read_sheet(PLANS["night driving"]["lyrics"]).sung_lines  # the video sings the plan

    artifact = markdown_artifact("music-video-neon-road")
    assert "## Song plan" in artifact and "- idea: a synthwave song about night driving" in artifact
    assert "written by `openai` (llama3.1); yours: duration" in artifact
    assert "```text\n[Intro]\n\n[Verse]\nLights go by\nHands on the wheel" in artifact
    assert "| write | openai | ran |" in artifact


@contextlib.contextmanager
def engine_serve(folder: Path, *flags: str) -> Iterator[str]:
    """`mvflow engine serve` as a user starts it, on a free port; its URL once /health answers."""
    from mvflow.song.devserver.server import free_socket

    with free_socket() as sock:
        port = sock.getsockname()[1]
    server = subprocess.Popen([MVFLOW, "engine", "serve", "--port", str(port), "--audio-dir", str(folder), *flags],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                httpx.get(f"{url}/health").raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_make_idea_through_mvflow_engine_serve(prefect_harness, no_config, monkeypatch, tmp_path):
    """--engine acestep with auto songwriting: the server's LM writes, its DiT (the built-in engine) sings."""
    from mvflow.flows.music_video import music_video
    from mvflow.flows.spec import flow_params, spec_from

    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    fields = {"idea": "a calm song about a lake in the morning", "engine": "acestep", "thinking": False,
              "resolution": "128x72", "fps": 8, "transcriber": "local", "output_dir": str(no_config / "out")}
    with engine_serve(tmp_path / "off", "--upstream", "latest", "--no-lm") as url:
        no_lm = CliRunner().invoke(app, ["make", "--idea", fields["idea"], "--engine", "acestep", "--api-url", url])
    assert no_lm.exit_code == 1 and f"(acestep: {url} says its LM is not loaded" in no_lm.output
    with engine_serve(tmp_path / "on", "--upstream", "latest") as url:
        params = flow_params(spec_from({**fields, "api_url": url}))
        assert params["songwriter"].provider == "acestep" and params["title"] is None
        run = music_video(**params)
        again = music_video(**params)
    plan = run.plan
    assert plan.provider == "acestep" and plan.model == LM_MODEL and plan.caption.startswith("chill")
    assert run.video.title == plan.title and Path(run.video.video.path).is_file()
    assert [s.name for s in run.steps][:3] == ["write", "song-submit", "song"]
    assert run.video.song.lyrics.strip() == plan.lyrics.strip()  # the server sang the plan's lyrics
    assert run.video.song.bpm == plan.bpm and abs(run.video.song.duration - plan.duration) < 1.0
    assert again.all_cached and again.plan.plan_file == plan.plan_file


def test_a_batch_of_three_ideas(prefect_harness, chat, no_config, monkeypatch):
    from mvflow.cli.common import console

    monkeypatch.setenv("MVFLOW_SONGWRITER_BASE_URL", chat.base_url)
    monkeypatch.setattr(console, "width", 250)  # the tables unwrapped
    path = no_config / "ideas.yaml"
    path.write_text(yaml.safe_dump({
        "name": "ideas",
        "defaults": {"duration": 10, "resolution": "128x72", "fps": 8, "transcriber": "local", "output_dir": "out"},
        "songs": [{"idea": f"a song about {idea}"} for idea in PLANS],
    }))
    dry = CliRunner().invoke(app, ["batch", str(path), "--dry-run"])
    assert dry.exit_code == 0 and "(idea, by openai) a song about night driving" in dry.output
    result = CliRunner().invoke(app, ["batch", str(path)])
    assert result.exit_code == 0, result.output
    assert "3 songs" in result.output and "3 made" in result.output
    for idea, plan in PLANS.items():
        folder = no_config / "out" / f"a-song-about-{idea.replace(' ', '-')}"
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["title"] == plan["title"] and manifest["plan"]["idea"] == f"a song about {idea}"
        assert (folder / f"{plan['title'].lower().replace(' ', '-')}.mp4").is_file()
    assert len(chat.chats) == 3


def test_serve_runs_a_batch_of_ideas(prefect_harness, chat, no_config):
    """`mvflow serve` registers the schedule; a run of the deployment (as the cron would start it) writes the
    plan and makes the video."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    from tests.flows.test_batch import wait_for, wait_for_deployment

    path = no_config / "weekly.yaml"
    path.write_text(yaml.safe_dump({
        "name": "weekly-ideas",
        "defaults": {"duration": 10, "resolution": "128x72", "fps": 8, "transcriber": "local", "output_dir": "out",
                     "songwriter_url": chat.base_url},
        "songs": [{"idea": "a song about the sea"}],
    }))
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "PREFECT_RUNNER_POLL_FREQUENCY": "1"}
    serve = subprocess.Popen([MVFLOW, "serve", str(path), "--cron", "0 9 * * 1", "--name", "ideas-test"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deployment = wait_for_deployment("music_video_batch/ideas-test", serve)
        assert deployment.schedules[0].schedule.cron == "0 9 * * 1"
        with get_client(sync_client=True) as client:
            run = client.create_flow_run_from_deployment(deployment.id)
            wait_for(lambda: client.read_flow_run(run.id).state.is_final(), "the scheduled batch to finish", 900)
            state = client.read_flow_run(run.id).state
    finally:
        serve.terminate()
        output = serve.communicate(timeout=60)[0]
    assert state.is_completed(), (state.message, output[-3000:])
    folder = no_config / "out" / "a-song-about-the-sea"
    assert json.loads((folder / "manifest.json").read_text())["title"] == "Blue Tide"
    assert (folder / "blue-tide.mp4").is_file() and len(chat.chats) == 1
