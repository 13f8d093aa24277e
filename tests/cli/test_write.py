"""`mvflow write` and the songwriter seen from the command line: the printed plan, lyrics.txt and the command that
makes the video from it, the template, one-line errors, and `mvflow doctor`'s songwriter rows."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mvflow.cli import app
from tests.songwriting.test_openai import PLAN, SHEET
from tests.support.chat_server import OpenAIChatServer

runner = CliRunner()
ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "MVFLOW_SONGWRITER_API_KEY", "ACESTEP_API_KEY")


@pytest.fixture
def chat(no_config, monkeypatch):
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    with OpenAIChatServer(api_key=None, models=("llama3.1",)) as srv:
        monkeypatch.setenv("MVFLOW_SONGWRITER_BASE_URL", srv.base_url)
        yield srv


def test_write_prints_the_plan_saves_it_and_says_how_to_make_the_video(chat, no_config):
    chat.say(PLAN)
    result = runner.invoke(app, ["write", "--idea", "a synthwave song about night driving", "--duration", "40"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Title:     Neon Highway\nCaption:   dreamy synthwave")
    assert "Music:     40 s, 100 bpm, A minor, time signature 4, sung in en\n" in result.stdout
    assert "Written by openai (llama3.1)" in result.stdout and SHEET in result.stdout
    folder = no_config / "mvflow_output" / "a-synthwave-song-about-night-driving"
    lyrics = next(folder.glob("plan-*/lyrics.txt"))
    assert lyrics.read_text() == SHEET + "\n" and f"lyrics: {lyrics}" in result.stderr
    command = shlex.split(result.stderr.strip().splitlines()[-1])
    assert command[:4] == ["mvflow", "make", "--lyrics", str(lyrics)]
    assert command[4:] == ["--caption", PLAN["caption"], "--title", "Neon Highway", "--duration", "40", "--bpm",
                           "100", "--key", "A minor", "--time-signature", "4", "--language", "en"]


def test_the_printed_command_makes_the_plans_song(chat, no_config):
    """The make line `mvflow write` prints is a valid request that sings the plan's (edited) lyrics."""
    from mvflow.cli.common import read_lyrics
    from mvflow.flows.spec import flow_params, spec_from

    chat.say(PLAN)
    result = runner.invoke(app, ["write", "--idea", "night driving", "--duration", "40"])
    args = shlex.split(result.stderr.strip().splitlines()[-1])[2:]
    lyrics = Path(args[1])
    lyrics.write_text(lyrics.read_text().replace("We never have to slow", "We never slow down"))
    flags = {name.lstrip("-").replace("-", "_"): value for name, value in zip(args[::2], args[1::2])}
    params = flow_params(spec_from({**flags, "lyrics": read_lyrics(flags.pop("lyrics"))}))
    request = params["request"]
    assert "We never slow down" in request.lyrics and (request.bpm, request.key_scale) == (100, "A minor")
    assert params["title"] == "Neon Highway" and "idea" not in params


def test_write_json_and_the_same_plan_for_make(chat, no_config):
    """--json prints plan.json; a second write with the same flags reads the plan back (no second request)."""
    chat.say(PLAN)
    first = runner.invoke(app, ["write", "-i", "night driving", "--duration", "40", "--json"])
    second = runner.invoke(app, ["write", "-i", "night driving", "--duration", "40", "--json"])
    assert first.exit_code == second.exit_code == 0, first.output + second.output
    assert json.loads(first.stdout) == json.loads(second.stdout)
    assert json.loads(first.stdout)["lyrics"] == SHEET and len(chat.chats) == 1


def test_show_prompt_prints_the_template_to_start_from(no_config):
    result = runner.invoke(app, ["write", "--show-prompt"])
    assert result.exit_code == 0
    assert result.stdout.startswith("=== system ===\n") and "=== repair ===" in result.stdout


def test_no_songwriter_is_one_line_naming_the_three_ways(no_config, monkeypatch):
    for name in (*ENV, "MVFLOW_SONGWRITER_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    for command in ("write", "make"):
        result = runner.invoke(app, [command, "--idea", "a song about rain"])
        assert result.exit_code == 1
        errors = [line for line in result.output.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and "Traceback" not in result.output
        assert errors[0].startswith("error: no songwriter for --idea: set OPENAI_API_KEY (OpenAI), or "
                                    "songwriter_base_url (--songwriter-url) to a local OpenAI-compatible server")


@pytest.mark.parametrize("args, message", [
    (["--idea", "rain", "--lyrics", "lyrics.txt"], "idea cannot be combined with lyrics: the songwriter writes"),
    (["--idea", "rain", "--vocal", "robot"], "vocal: Input should be 'female' or 'male'"),
    (["--idea", "   "], "idea is empty"),
    (["--idea", "rain", "--songwriter", "claude"], "unknown songwriter 'claude'; choose one of: auto, openai, acestep"),
])
def test_bad_idea_requests_are_one_line(chat, no_config, args, message):
    (no_config / "lyrics.txt").write_text("[Verse]\nhello\n")
    result = runner.invoke(app, ["make", *args])
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output


def test_a_plan_still_wrong_after_the_repair_lists_each_problem(chat, no_config):
    chat.say({**PLAN, "bpm": 900}, {**PLAN, "bpm": 900, "key_scale": "purple"})
    result = runner.invoke(app, ["write", "--idea", "rain", "--duration", "40"])
    assert result.exit_code == 1
    assert "problem: bpm 900 is outside 30-300" in result.stderr
    assert "problem: key_scale 'purple' is not a key" in result.stderr
    assert "error: songwriter openai (llama3.1) wrote no usable plan, even after one repair: see the problems" \
           in result.stderr


def test_doctor_reports_the_songwriter(chat, no_config):
    result = runner.invoke(app, ["doctor"])
    lines = {line.split()[1] + " " + line.split()[2]: line for line in result.output.splitlines()
             if line.split()[1:2] == ["songwriter:"]}
    assert lines["songwriter: openai"].startswith("ok") and chat.base_url in lines["songwriter: openai"]
    assert "serves llama3.1" in result.output
    assert lines["songwriter: auto"].startswith("ok") and "--idea would use openai" in lines["songwriter: auto"]
    assert "key: songwriter" in result.output
