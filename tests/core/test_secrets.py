"""Keys never leave the process: canary keys for every provider, then a search of everything a run leaves.

`mvflow make` runs twice as a user would (ACE-Step song, OpenAI then ElevenLabs lyrics, Gemini
cover; the second run from an idea, written by the songwriter on an OpenAI-compatible server
that wants its own key), against local servers that check the keys. ACE-Step's and OpenAI's keys
come from the environment, ElevenLabs', Gemini's and the songwriter's from Prefect Secret blocks
named in mvflow.toml. Then
every output file, Prefect's stored results and home folder, the terminal output, the Prefect
logs and flow-run parameters read back from the API, and the Prefect database itself are
searched for the canaries.
"""

from __future__ import annotations

import inspect
import os
import re
import subprocess
from pathlib import Path

import pytest
from pydantic import BaseModel

from mvflow.song.devserver.server import start_in_thread
from tests.support.chat_server import OpenAIChatServer
from tests.support.crash_harness import MVFLOW, MakeCommand, acestep_stats
from tests.support.gemini_server import GeminiStub
from tests.support.stt_servers import ElevenLabsSttServer, OpenAISttServer

CANARY = {
    "acestep": "canary-acestep-5c1e0f9b",
    "openai": "canary-openai-a81d4e27",
    "elevenlabs": "canary-elevenlabs-39f7c2d0",
    "gemini": "canary-gemini-e6b04a13",
    "songwriter": "canary-songwriter-7d2b95ce",
}
LYRICS = "[Verse]\nHello city lights tonight\nWe are running through the rain\n"
KEY_VARS = ("ACESTEP_API_KEY", "OPENAI_API_KEY", "ELEVENLABS_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY",
            "MVFLOW_SONGWRITER_API_KEY")
#: The idea run's plan: it fits the 6 s song at 160 bpm (two short lines), and the STT stand-ins hear its words.
PLAN = {"title": "Canary Song", "caption": "dream pop, airy vocal", "lyrics": "[Verse]\nHello lights\n\n[Chorus]\nRun "
        "through rain", "bpm": 160, "key_scale": "C major", "time_signature": "4", "duration": 6,
        "vocal_language": "en"}


def canary_hits(blob: bytes | str) -> list[str]:
    data = blob.encode() if isinstance(blob, str) else blob
    return [name for name, key in CANARY.items() if key.encode() in data]


def files_with_canaries(*roots: Path) -> dict[str, list[str]]:
    found = {}
    for root in roots:
        for path in [root] if root.is_file() else root.rglob("*"):
            if path.is_file() and (hits := canary_hits(path.read_bytes())):
                found[str(path)] = hits
    return found


def prefect_database_files() -> list[Path]:
    from prefect.settings import PREFECT_SERVER_DATABASE_CONNECTION_URL

    db = Path(PREFECT_SERVER_DATABASE_CONNECTION_URL.value().split(":///", 1)[1])
    return [p for p in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-journal")) if p.exists()]


def api_records() -> str:
    """Every log line and every flow run's parameters, as the Prefect API returns them."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        logs = client.read_logs(limit=200)
        offset = 200
        while batch := client.read_logs(limit=200, offset=offset):
            logs += batch
            offset += 200
        runs = client.read_flow_runs(limit=200)
    return "\n".join([*(log.message for log in logs), *(run.model_dump_json() for run in runs)])


def test_the_search_finds_a_planted_canary(tmp_path):
    (tmp_path / "leak.json").write_text(f'{{"token": "{CANARY["gemini"]}"}}')
    assert files_with_canaries(tmp_path) == {str(tmp_path / "leak.json"): ["gemini"]}


@pytest.mark.e2e
def test_no_key_reaches_outputs_logs_results_or_the_prefect_database(prefect_harness, tmp_path):
    from prefect.blocks.system import Secret
    from prefect.settings import PREFECT_API_URL

    Secret(value=CANARY["elevenlabs"]).save("canary-elevenlabs", overwrite=True)
    Secret(value=CANARY["gemini"]).save("canary-gemini", overwrite=True)
    Secret(value=CANARY["songwriter"]).save("canary-songwriter", overwrite=True)
    (tmp_path / "mvflow.toml").write_text("elevenlabs_key_block = 'canary-elevenlabs'\n"
                                          "gemini_key_block = 'canary-gemini'\n"
                                          "songwriter_key_block = 'canary-songwriter'\n")
    (tmp_path / "lyrics.txt").write_text(LYRICS)
    words = LYRICS.split()[1:]
    url, stop = start_in_thread(api_key=CANARY["acestep"], audio_dir=tmp_path / "server_audio", admin=False)
    try:
        with OpenAISttServer(CANARY["openai"], words) as openai, GeminiStub() as gemini, \
                ElevenLabsSttServer(CANARY["elevenlabs"], ["Hello", "lights", "Run", "through", "rain"]) as eleven, \
                OpenAIChatServer(CANARY["songwriter"], models=("llama3.1",)) as songwriter:
            songwriter.answer_always(PLAN)
            env = {k: v for k, v in os.environ.items() if k not in KEY_VARS}
            env.update({"ACESTEP_API_KEY": CANARY["acestep"], "OPENAI_API_KEY": CANARY["openai"],
                        "OPENAI_BASE_URL": openai.base_url, "ELEVENLABS_BASE_URL": eleven.base_url,
                        "MVFLOW_GEMINI_BASE_URL": gemini.url, "GOOGLE_GEMINI_BASE_URL": "http://127.0.0.1:9",
                        "MVFLOW_SONGWRITER_BASE_URL": songwriter.base_url,
                        "PREFECT_API_URL": PREFECT_API_URL.value(), "PREFECT_HOME": str(tmp_path / "prefect-home"),
                        "XDG_CONFIG_HOME": str(tmp_path / "xdg")})
            common = ["--title", "Canary Song", "--duration", "6", "--engine", "acestep", "--api-url", url,
                      "--no-thinking", "--cover-provider", "gemini", "--resolution", "320x180", "--fps", "8",
                      "-o", "out"]
            runs = {"openai": ["-c", "dream pop", "--lyrics", "lyrics.txt"],
                    "elevenlabs": ["--idea", "a dream pop song about city lights in the rain"]}
            outputs = []
            for transcriber, song in runs.items():
                done = MakeCommand([*song, *common, "--transcriber", transcriber], env, tmp_path).run()
                assert done.returncode == 0, done.stderr[-3000:]
                outputs += [done.stdout, done.stderr]
            doctor = subprocess.run([MVFLOW, "doctor", "--api-url", url], cwd=tmp_path, env=env,
                                    capture_output=True, text=True, timeout=120)
            outputs += [doctor.stdout, doctor.stderr]
            assert "Secret block 'canary-gemini'" in doctor.stderr
            assert "Secret block 'canary-songwriter'" in doctor.stderr
            assert acestep_stats(url, CANARY["acestep"])["succeeded"] == 2  # it answers only the right key
    finally:
        stop()

    # The keys were used: every service saw its own canary.
    assert {r.headers["authorization"] for r in openai.requests} == {f"Bearer {CANARY['openai']}"}
    assert {r.headers["xi-api-key"] for r in eleven.requests} == {CANARY["elevenlabs"]}
    assert {r.headers["x-goog-api-key"] for r in gemini.requests} == {CANARY["gemini"]}
    assert {r.headers["authorization"] for r in songwriter.requests} == {f"Bearer {CANARY['songwriter']}"}
    assert any(path.name == "plan.json" for path in (tmp_path / "out").rglob("*"))  # the idea run wrote a plan

    assert canary_hits("\n".join(outputs)) == []
    assert any((tmp_path / "out" / ".prefect-results").iterdir())  # the stored results are searched too
    assert files_with_canaries(tmp_path / "out", tmp_path / "prefect-home", tmp_path / "mvflow.toml") == {}
    records = api_records()
    assert "Canary Song" in records and "timing lyrics with transcriber 'elevenlabs'" in records
    assert canary_hits(records) == []
    assert prefect_database_files() and files_with_canaries(*prefect_database_files()) == {}


SECRET_NAME = re.compile(r"(api_?key|token|secret|password|credential)", re.IGNORECASE)


def _secret_like_fields(annotation: object, path: str, seen: set) -> list[str]:
    """Names under a parameter's type (pydantic models, recursively) that look like they hold a key."""
    found = []
    for model in [a for a in (annotation, *getattr(annotation, "__args__", ())) if isinstance(a, type)]:
        if issubclass(model, BaseModel) and model not in seen:
            seen.add(model)
            for name, info in model.model_fields.items():
                if SECRET_NAME.search(name):
                    found.append(f"{path}.{name}")
                found += _secret_like_fields(info.annotation, f"{path}.{name}", seen)
    return found


def test_no_flow_or_task_takes_a_key_as_a_parameter():
    """Prefect stores flow parameters and hashes task inputs into cache keys: keys must never be one."""
    import typing

    from prefect import Flow, Task

    import mvflow.cover
    import mvflow.flows.batch
    import mvflow.flows.music_video
    import mvflow.lyrics
    import mvflow.render
    import mvflow.song
    import mvflow.songwriting

    modules = (mvflow.flows.batch, mvflow.flows.music_video, mvflow.lyrics, mvflow.render, mvflow.song, mvflow.cover,
               mvflow.songwriting)
    steps = {obj for module in modules for obj in vars(module).values() if isinstance(obj, (Flow, Task))}
    assert len(steps) >= 9 and "write_song" in {step.name for step in steps}
    offenders = []
    for step in steps:
        hints = typing.get_type_hints(step.fn)
        for name in inspect.signature(step.fn).parameters:
            if SECRET_NAME.search(name):
                offenders.append(f"{step.name}({name})")
            offenders += _secret_like_fields(hints.get(name), f"{step.name}({name})", set())
    assert offenders == []
