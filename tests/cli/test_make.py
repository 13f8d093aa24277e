"""The mvflow command as a user runs it: clear one-line errors, and `make` printing the MP4 path."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mvflow.cli import app

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give --caption"),
        (["-c", "pop", "--lyrics", "missing.txt"], "lyrics file not found: missing.txt"),
        (["-c", "pop", "--resolution", "big"], "resolution must look like 1920x1080"),
        (["-c", "pop", "--cover", "nope.png"], "cover image not found: nope.png"),
        (["-c", "pop", "--cover-fit", "stretch"], "cover_fit"),
        (["-c", "pop", "--lrc", "nope.lrc"], "LRC file not found"),
        (["-c", "pop", "--engine", "acestep", "--pick", "3"], "pick 3 is larger than batch_size 1"),
        (["-c", "pop", "--engine", "acestep", "--takes", "3", "--pick", "2"], "takes choose the take themselves"),
        (["-c", "pop", "--engine", "acestep", "--takes", "9"], "takes: Input should be less than or equal to 8"),
        (["-c", "pop", "--engine", "acestep", "--lora", "style:2"], "lora_scale: Input should be less than or equal"),
        (["-c", "pop", "--engine", "acestep", "--repaint-mode", "gentle"], "repaint_mode"),
        (["-c", "pop", "--engine", "acestep", "--audio-format", "ogg"], "audio_format"),
        (["-c", "pop", "--mix", "heavy"], "mix: Input should be 'light' or 'dense'"),
        (["-c", "pop", "--skip-lines", "2,x"], "give line numbers separated by commas, e.g. 2,7"),
        (["-c", "pop", "--skip-lines", "0"], "line numbers start at 1"),
        (["-c", "pop", "--engine", "acestep", "--vocal-style", "sung"],
         "vocal_style is an option of the built-in engine (engine local), not of acestep"),
        (["-c", "pop", "--short-from", "10", "--short-to", "20"],
         "--short-from/--short-to choose the short's part of the song, and the outputs are full: add short "
         "(e.g. --outputs full,short)"),
        (["-c", "pop", "--duration", "30", "--outputs", "short", "--short-from", "1:10", "--short-to", "1:30"],
         "--short-from 70 s is past the song's end (30 s)"),
    ],
)
def test_user_errors_are_one_clear_line(no_config, args, message):
    result = runner.invoke(app, ["make", *args])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output


#: Every command a user can run, with a word its --help must contain.
COMMANDS = {"make": "music video", "write": "song plan", "batch": "batch file", "serve": "schedule",
            "render": "existing song", "transcribe": "lyrics", "thumbnail": "cover image", "doctor": "usable",
            "engine serve": "ACE-Step", "postgres start": "keeps running", "postgres stop": "Stop the server"}


def registered_commands() -> set[str]:
    """The command names the app really has (groups as 'group sub')."""
    names = {info.name or info.callback.__name__ for info in app.registered_commands}
    for group in app.registered_groups:
        names |= {f"{group.name} {info.name or info.callback.__name__}"
                  for info in group.typer_instance.registered_commands}
    return names


def test_help_explains_every_command():
    assert registered_commands() == set(COMMANDS)
    top = runner.invoke(app, ["--help"])
    assert top.exit_code == 0
    for command, word in COMMANDS.items():
        assert command.split()[0] in top.output
        result = runner.invoke(app, [*command.split(), "--help"])
        assert result.exit_code == 0, (command, result.output)
        assert word in " ".join(result.output.split()), (command, result.output)


@pytest.mark.e2e
def test_make_from_stdin_lyrics_prints_the_mp4(prefect_harness, no_config):
    """The installed `mvflow` script, in its own process, against the session's Prefect server."""
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "mvflow"), "make", "-c", "calm piano", "--lyrics", "-",
         "--title", "Stdin Song", "--duration", "8", "--resolution", "256x144", "--fps", "10", "-o", "out"],
        input="[Verse]\nHello from standard input\n", capture_output=True, text=True, env=env, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"rendering stdin-song\.mp4 .*100\.0%", result.stderr)  # the render step's progress bar
    mp4 = Path(result.stdout.strip().splitlines()[-1])
    assert mp4.suffix == ".mp4" and mp4.is_file() and mp4.is_relative_to(no_config / "out" / "stdin-song")
    lrc = next((no_config / "out" / "stdin-song").glob("lyrics-*/lyrics.lrc")).read_text()
    assert "Hello from standard input" in lrc


def test_the_demo_request_is_a_valid_spec(no_config):
    from mvflow.flows.spec import demo_spec, flow_params, spec_from

    params = flow_params(spec_from({}, base=demo_spec()))
    assert params["title"] == "Night Drive"
    assert params["request"].key_scale == "A minor" and params["request"].lyrics.strip()


def test_built_in_engine_song_options_reach_the_engine_only_when_given(no_config):
    """--vocal-style/--mix/--skip-lines (and a batch file's list) become the built-in engine's options;
    a request without them keeps the options (and so the song's cache key) it always had."""
    from mvflow.flows.spec import flow_params, spec_from

    given = flow_params(spec_from({"caption": "funk", "lyrics": "[Verse]\na\nb\n", "vocal_style": "sung",
                                   "mix": "dense", "skip_lines": "2"}))
    assert given["request"].engine_options == {"vocal_style": "sung", "mix": "dense", "skip_lines": [2]}
    listed = flow_params(spec_from({"caption": "funk", "lyrics": "x", "skip_lines": [1, 3]}))
    assert listed["request"].engine_options == {"skip_lines": [1, 3]}
    assert flow_params(spec_from({"caption": "funk", "lyrics": "x"}))["request"].engine_options == {}
