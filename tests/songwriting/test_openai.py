"""The `openai` songwriter through the real openai SDK, against a local server speaking OpenAI's chat-completions
protocol (tests.support.chat_server): structured output, the repair round-trip, and every way a server fails."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mvflow.errors import PermanentError, ServiceError, SongwriterError, is_transient
from mvflow.models import SongIdea, SongwriterOptions
from mvflow.settings import Settings
from mvflow.songwriting import make_plan, plan_dir
from mvflow.songwriting.openai_writer import KEYLESS, SONGWRITER
from mvflow.songwriting.prompt import template_text
from tests.support.chat_server import CutOff, OpenAIChatServer, Refusal
from tests.support.stub_http import Fault

SHEET = ("[Intro]\n\n[Verse 1]\nCity lights are fading in the mirror\nEngine hums a song I used to know\n\n"
         "[Chorus]\nDrive on, drive on, the neon highway\nWe never have to slow\n\n[Outro]")
PLAN = {"title": "Neon Highway", "caption": "dreamy synthwave, analog synths, gated drums, female vocal",
        "lyrics": SHEET, "bpm": 100, "key_scale": "A minor", "time_signature": "4", "duration": 40,
        "vocal_language": "en"}
IDEA = SongIdea(idea="a synthwave song about night driving", mood="nostalgic", duration=40, seed=7)
KEY = "sk-songwriter-test"


@pytest.fixture
def clean_env(no_config):
    """An empty working folder, no config, no keys (the autouse fixture of conftest.py)."""
    return no_config


@pytest.fixture
def server(clean_env, monkeypatch):
    """A server of the user's own that wants a key (MVFLOW_SONGWRITER_API_KEY) and serves one model."""
    monkeypatch.setenv("MVFLOW_SONGWRITER_API_KEY", KEY)
    with OpenAIChatServer(api_key=KEY, models=("llama3.1:8b",)) as srv:
        yield srv


def options_for(srv: OpenAIChatServer, **settings) -> SongwriterOptions:
    return SONGWRITER.options(Settings(songwriter_base_url=srv.base_url, **settings), None)


def write(srv: OpenAIChatServer, folder: Path, idea: SongIdea = IDEA, **settings):
    """make_plan with the model named (so the only request is the chat, and a scripted fault hits it)."""
    return make_plan(idea, folder, options_for(srv, **{"songwriter_model": "llama3.1:8b", **settings}))


def test_a_plan_is_asked_for_as_structured_output_with_the_craft_prompt(server, clean_env):
    server.say(PLAN)
    plan = write(server, clean_env)
    chat = server.chats[0]
    assert chat.headers["authorization"] == f"Bearer {KEY}"
    body = chat.body
    assert body["model"] == "llama3.1:8b" and body["seed"] == 7 and 0 < body["temperature"] <= 1
    schema = body["response_format"]["json_schema"]
    assert body["response_format"]["type"] == "json_schema" and schema["strict"] is True
    assert set(schema["schema"]["required"]) == set(PLAN)
    system, user = chat.text("system"), chat.text("user")
    for craft in ("[Intro], [Verse], [Pre-Chorus], [Chorus], [Bridge], [Outro], [Instrumental]",
                  "never more than 16", "word for word", "Rhyme", "comma-separated descriptors",
                  "ballads 60-80 bpm", "- key_scale: Key and scale"):
        assert craft in system, craft
    assert "a synthwave song about night driving" in user and "- Mood: nostalgic" in user
    assert "- Length: 40 seconds" in user and "holds about" in system  # the line budget for 40 s
    assert (plan.title, plan.bpm, plan.duration, plan.provider, plan.model) == ("Neon Highway", 100, 40, "openai",
                                                                              "llama3.1:8b")
    assert plan.given == ["duration"] and not plan.repaired


def test_the_plan_is_saved_as_plan_json_and_lyrics_txt_in_an_input_hashed_folder(server, clean_env):
    server.say(PLAN)
    options = options_for(server)
    plan = make_plan(IDEA, clean_env, options)
    folder = plan_dir(IDEA, clean_env, options)
    assert Path(plan.plan_file.path) == folder / "plan.json" and folder.name.startswith("plan-")
    saved = json.loads((folder / "plan.json").read_text())
    assert saved["lyrics"] == SHEET and saved["idea"] == IDEA.idea and saved["model"] == "llama3.1:8b"
    assert (folder / "lyrics.txt").read_text() == SHEET + "\n"
    assert plan.plan_file.is_intact() and plan.lyrics_file.is_intact()
    again = make_plan(IDEA, clean_env, options)  # read back: the songwriter is not asked twice
    assert len(server.chats) == 1 and again.lyrics == plan.lyrics
    other = IDEA.model_copy(update={"seed": 8})
    assert plan_dir(other, clean_env, options) != folder


def test_a_429_is_transient_and_carries_the_servers_retry_after(server, clean_env):
    server.inject(Fault.error(429, "Rate limit reached", "rate_limit_exceeded", headers={"Retry-After": "7"}))
    with pytest.raises(ServiceError) as info:
        write(server, clean_env)
    assert is_transient(info.value) and info.value.retry_after == 7 and info.value.status_code == 429
    assert "rate limiting or failing (HTTP 429): Rate limit reached" in str(info.value)


@pytest.mark.parametrize("fault", [Fault.error(503, "The server is overloaded"), Fault.malformed(),
                                   Fault.truncated(), Fault.reset()])
def test_server_faults_are_transient(server, clean_env, fault):
    server.inject(fault)
    with pytest.raises(Exception) as info:  # noqa: PT011 - the kind depends on the fault; what matters is below
        write(server, clean_env)
    assert is_transient(info.value), repr(info.value)
    assert KEY not in str(info.value)


def test_a_refusal_fails_at_once_with_the_models_words(server, clean_env):
    server.say(Refusal("I can't write lyrics about that."))
    with pytest.raises(SongwriterError) as info:
        write(server, clean_env)
    assert not is_transient(info.value)
    assert "refused to write this song: I can't write lyrics about that." in str(info.value)
    assert len(server.chats) == 1  # no repair: the same request would be refused again


def test_an_answer_cut_off_at_the_length_limit_is_repaired(server, clean_env):
    server.say(CutOff(json.dumps(PLAN)[:120]), PLAN)
    plan = write(server, clean_env)
    assert plan.repaired and plan.title == "Neon Highway"
    repair = server.chats[1].messages
    assert [m["role"] for m in repair] == ["system", "user", "assistant", "user"]
    assert repair[2]["content"] == json.dumps(PLAN)[:120]
    assert "cut off at the model's length limit" in repair[3]["content"]


def test_lyrics_too_long_for_the_song_are_sent_back_never_cut(server, clean_env):
    long_sheet = "[Verse]\n" + "\n".join(f"Line number {n} keeps on going" for n in range(30)) + "\n\n[Chorus]\nStop"
    server.say({**PLAN, "lyrics": long_sheet}, PLAN)
    plan = write(server, clean_env)
    assert plan.repaired and plan.lyrics == SHEET
    asked = server.chats[1].messages[-1]["content"]
    assert "the lyrics do not fit: 31 sung lines need about" in asked and "but the song is 40 s long" in asked
    assert "Never stop a line" in asked


def test_still_wrong_after_the_repair_is_one_error_showing_every_problem(server, clean_env):
    server.say("{not json", {**PLAN, "lyrics": "[Hook x3]\nla\n\n[Verse 1]\n\n[Chorus]\nfine", "bpm": 999})
    with pytest.raises(SongwriterError) as info:
        write(server, clean_env)
    assert len(server.chats) == 2 and not is_transient(info.value)
    assert str(info.value).startswith("songwriter openai (llama3.1:8b) wrote no usable plan, even after one repair: ")
    assert info.value.problems[0] == "bpm 999 is outside 30-300"
    listed = " | ".join(info.value.problems)
    assert "tag(s) [Hook x3] are not sections" in listed and "[Verse 1] has no lines" in listed
    assert "1 line(s) come before the first section tag (starting 'la')" in listed
    first = server.chats[1].messages[-1]["content"]
    assert "the answer is not valid JSON" in first
    assert not list(clean_env.rglob("plan.json"))  # nothing half-made was saved


def test_a_json_fence_around_the_answer_is_read(server, clean_env):
    server.say(f"```json\n{json.dumps(PLAN)}\n```")
    assert write(server, clean_env).title == "Neon Highway"


def test_a_rejected_key_names_the_variable_to_set(server, clean_env, monkeypatch):
    monkeypatch.setenv("MVFLOW_SONGWRITER_API_KEY", "wrong")
    with pytest.raises(PermanentError) as info:
        write(server, clean_env)
    assert "rejected the API key: set MVFLOW_SONGWRITER_API_KEY" in str(info.value) and "wrong" not in str(info.value)


def test_an_unknown_model_says_to_choose_one(server, clean_env):
    with pytest.raises(PermanentError) as info:
        write(server, clean_env, songwriter_model="gpt-9")
    assert "has no model 'gpt-9'" in str(info.value) and "--songwriter-model" in str(info.value)


def test_a_keyless_local_server_and_its_only_model(clean_env, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-never-sent-elsewhere")
    with OpenAIChatServer(api_key=None, models=("qwen2.5:7b",)) as srv:
        options = options_for(srv)
        assert (options.model, options.key_from, options.base_url) == ("qwen2.5:7b", None, srv.base_url)
        srv.say(PLAN)
        make_plan(IDEA, clean_env, options)
    assert {r.headers["authorization"] for r in srv.requests} == {f"Bearer {KEYLESS}"}


def test_a_server_with_several_models_asks_which(clean_env):
    with OpenAIChatServer(api_key=None, models=("a", "b")) as srv, pytest.raises(PermanentError) as info:
        options_for(srv)
    assert "serves 2 models (a, b): choose one with --songwriter-model" in str(info.value)


def test_openai_itself_needs_its_key_and_gets_the_default_model(clean_env, monkeypatch):
    with pytest.raises(PermanentError, match="songwriter openai needs OPENAI_API_KEY"):
        SONGWRITER.options(Settings(), None)
    with OpenAIChatServer(api_key="sk-openai", models=("gpt-4o-mini",)) as srv:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
        monkeypatch.setenv("OPENAI_BASE_URL", srv.base_url)  # how the transcriber reaches OpenAI too
        options = SONGWRITER.options(Settings(), None)
        assert (options.model, options.key_from) == ("gpt-4o-mini", "openai")
        srv.say(PLAN)
        assert make_plan(IDEA, clean_env, options).title == "Neon Highway"


def test_your_own_prompt_template_is_used_and_changes_the_cache_key(server, clean_env):
    mine = clean_env / "my_prompt.txt"
    mine.write_text(template_text().replace("You are a songwriter", "You are a country songwriter"))
    server.say(PLAN)
    plan = write(server, clean_env, songwriter_prompt=mine)
    assert server.chats[0].text("system").startswith("You are a country songwriter") and plan.title
    assert options_for(server, songwriter_prompt=mine).prompt_sha256 != options_for(server).prompt_sha256


@pytest.mark.parametrize("text, message", [
    ("=== system ===\nhello\n=== user ===\n$idea\n", r"lacks its repair part\(s\)"),
    ("=== system ===\n$colour\n=== user ===\n$idea\n=== repair ===\n$problems\n", "unknown or broken placeholder"),
])
def test_a_broken_template_is_one_clear_error(server, clean_env, text, message):
    mine = clean_env / "broken.txt"
    mine.write_text(text)
    with pytest.raises(PermanentError, match=message):
        write(server, clean_env, songwriter_prompt=mine)
