"""ACE-Step client pieces that need no server: bodies, alias rules, answer parsing, error lines.

Shapes the built-in server never produces (the native /v1/models envelope, in-band errors
of a real LM, a chat 500 with a traceback) are served by httpx.MockTransport.
"""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from mvflow.errors import (
    AceStepAuthError,
    AceStepError,
    AceStepGenerationTimeout,
    AceStepJobFailed,
    AceStepLmUnavailable,
    AceStepLostTask,
    PermanentError,
    UploadsRejected,
    is_transient,
)
from mvflow.models import SongRequest
from mvflow.song import submit_cache_key
from mvflow.song.acestep.client import AceStepClient, TaskState, error_detail, model_names, parse_result
from mvflow.song.acestep.engine import Liveness
from mvflow.song.acestep.failures import failure_error
from mvflow.song.acestep.options import AceStepOptions, normalize_time_signature, submission_request
from mvflow.song.acestep.payload import (
    AMBIGUOUS_KEYS,
    apply_random_sample,
    batch_seeds,
    build_completion_body,
    build_release_payload,
    completion_audio_url,
    decode_data_url,
    metas_of,
    parse_completion_content,
    seed_at,
    sung_text,
)
from mvflow.song.devserver import results
from mvflow.song.devserver.params import PARAMS, parse_release_params, parse_seeds

LYRICS = "[Verse]\nHello city lights\n\n[Chorus]\nSing it loud"


def song_request(**options) -> SongRequest:
    return SongRequest(caption="upbeat synth pop", lyrics=LYRICS, duration=7, bpm=120, key_scale="C major",
                       time_signature="4/4", language="en", seed=42, engine="acestep", engine_options=options)


def payload(**options) -> dict:
    request = song_request(**options)
    return build_release_payload(request, AceStepOptions.from_request(request))


# ---- release payload: the alias rules ---------------------------------------------------------

@pytest.mark.parametrize("options", [
    {}, {"use_format": True}, {"description": "a cheerful song about spring"}, {"audio_format": "wav"},
    {"task_type": "cover", "src_audio": "x.mp3", "audio_cover_strength": 0.3},
    {"task_type": "repaint", "src_audio": "x.mp3", "repainting_start": 1, "repainting_end": 3},
    {"model": "acestep-v15-base", "inference_steps": 32, "guidance_scale": 5.0, "batch_size": 3},
])
def test_payload_uses_only_canonical_names_and_never_an_ambiguous_alias(options):
    body = payload(**options)
    assert not AMBIGUOUS_KEYS & set(body)
    assert set(body) <= set(PARAMS)  # every key is a canonical name the server reads as such
    assert body["audio_duration"] == 7.0 and "batch_size" in body


def test_payload_carries_every_field_the_user_set():
    body = payload(model="acestep-v15-base", inference_steps=32, guidance_scale=5.0, batch_size=3,
                   audio_format="flac")
    assert body == {**body, "prompt": "upbeat synth pop", "lyrics": LYRICS, "bpm": 120, "key_scale": "C major",
                    "time_signature": "4", "vocal_language": "en", "seed": "42,43,44", "use_random_seed": False,
                    "model": "acestep-v15-base", "inference_steps": 32, "guidance_scale": 5.0, "batch_size": 3,
                    "audio_format": "flac", "thinking": True, "use_format": False, "task_type": "text2music"}


def test_description_travels_as_sample_query_and_thinking_is_on_by_default():
    body = payload(description="a cheerful song about spring")
    assert body["sample_query"] == "a cheerful song about spring"
    assert body["thinking"] is True
    assert "description" not in body and "desc" not in body


def test_edit_tasks_send_their_knobs():
    assert payload(task_type="repaint", src_audio="a.wav", repainting_start=1.5)["repainting_end"] == -1
    cover = payload(task_type="cover", src_audio="a.wav", audio_cover_strength=0.2)
    assert cover["task_type"] == "cover" and cover["audio_cover_strength"] == 0.2


@pytest.mark.parametrize("given, sent", [("4/4", "4"), ("4", "4"), ("3/4", "3"), ("6/8", "6"), ("2", "2"),
                                         (" 6 / 8 ", "6"), ("", None)])
def test_time_signature_is_sent_as_the_server_reads_it(given, sent):
    assert normalize_time_signature(given) == sent


def test_unknown_time_signature_is_one_clear_line():
    with pytest.raises(PermanentError, match="use 2, 3, 4 or 6"):
        normalize_time_signature("5/4")


def test_the_server_side_reader_sees_what_the_client_meant():
    """Round trip: what the client sends, the alias rules of the server read back unchanged."""
    params = parse_release_params(payload(description="spring", audio_format="wav"))
    assert params["sample_query"] == "spring" and params["use_format"] is False
    assert params["audio_format"] == "wav" and params["key_scale"] == "C major"
    assert params["vocal_language"] == "en" and params["audio_duration"] == 7.0 and params["batch_size"] == 1


def test_server_aliases_and_lenient_coercion_follow_the_contract():
    params = parse_release_params({
        "format": "yes", "desc": "rainy day", "key": "F# minor", "language": "ja", "duration": "12",
        "inference_steps": "abc", "param_obj": json.dumps({"bpm": "90", "caption": "ignored: top level wins"}),
        "caption": "top", "metas": {"timesignature": "3"}, "batch_size": None,
    })
    assert params["use_format"] is True and params["sample_query"] == "rainy day"
    assert params["key_scale"] == "F# minor" and params["vocal_language"] == "ja"
    assert params["audio_duration"] == 12.0 and params["inference_steps"] == 8  # unparsable -> default
    assert params["bpm"] == 90 and params["prompt"] == "top" and params["time_signature"] == "3"
    assert params["batch_size"] == 2  # the server's default: why the client always sends it
    assert parse_seeds("42, 43") == [42, 43] and parse_seeds(-1) == []


# ---- options ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("options, message", [
    ({"pick": 3, "batch_size": 2}, "pick 3 is larger than batch_size 2"),
    ({"task_type": "cover"}, "needs src_audio"),
    ({"takes": 3, "batch_size": 2}, "takes 3 and batch_size 2: give one of them"),
    ({"takes": 3, "pick": 2}, "takes choose the take themselves"),
    ({"takes": 1}, "takes"),
    ({"repaint_mode": "balanced"}, "repaint_mode and repaint_strength are for --task-type repaint"),
    ({"lora_scale": 0.5}, "lora_scale needs lora"),
    ({"lora": "a.safetensors:1.5"}, "lora_scale"),
    ({"audio_format": "ogg"}, "audio_format"),
    ({"api_key": "x"}, "api_key"),  # keys never travel in options
])
def test_bad_options_are_one_clear_line(options, message):
    with pytest.raises(PermanentError, match=message) as info:
        AceStepOptions.from_request(song_request(**options))
    assert "\n" not in str(info.value)


def test_runtime_options_do_not_change_the_submit_cache_key():
    base = song_request(api_url="http://127.0.0.1:9", batch_size=2)
    slower = song_request(api_url="http://127.0.0.1:9", batch_size=2, timeout=5, poll_interval=9, pick=2)
    bigger = song_request(api_url="http://127.0.0.1:9", batch_size=3)
    def key(r):
        return submit_cache_key(None, {"request": r, "out_dir": "/o"})
    assert key(base) == key(slower) != key(bigger)
    assert "timeout" not in submission_request(slower).engine_options


def test_upload_files_are_checked_and_pinned(tmp_path):
    src = tmp_path / "src.wav"
    src.write_bytes(b"RIFF1234")
    options = AceStepOptions(task_type="cover", src_audio=str(src)).pinned()
    assert options.upload_files() == {"src_audio": src}
    src.write_bytes(b"RIFF5678")
    with pytest.raises(PermanentError, match="changed since the request was made"):
        options.upload_files()
    with pytest.raises(PermanentError, match="src audio file not found"):
        AceStepOptions(task_type="cover", src_audio=str(tmp_path / "missing.wav")).upload_files()


# ---- answers -----------------------------------------------------------------------------------------

def test_result_is_a_json_string_of_a_list():
    assert parse_result('[{"file": "/v1/audio?path=x", "status": 1}]') == [{"file": "/v1/audio?path=x", "status": 1}]
    assert parse_result("[]") == [] and parse_result(None) == []
    state = TaskState("t", 0, parse_result("[]"))
    assert state.looks_unknown and state.stage == "unknown task"


def test_models_in_both_shapes():
    openrouter = {"object": "list", "data": [{"id": "acestep/acestep-v15-turbo"}, {"id": "acestep/base"}]}
    native = {"data": {"models": [{"name": "acestep-v15-turbo", "is_default": True}],
                       "default_model": "acestep-v15-turbo"}, "code": 200, "error": None}
    assert model_names(openrouter) == ["acestep-v15-turbo", "base"]
    assert model_names(native) == ["acestep-v15-turbo"]


def test_metas_with_na_and_seeds_per_audio():
    entry = {"metas": {"bpm": "N/A", "duration": 3.0, "keyscale": "N/A", "timesignature": "4"},
             "seed_value": "4150490888,2445726091"}
    assert metas_of(entry) == {"bpm": None, "key_scale": None, "time_signature": "4", "duration": 3.0}
    assert metas_of({"metas": {"bpm": 154, "keyscale": "C major"}})["bpm"] == 154
    assert metas_of({})["bpm"] is None
    assert seed_at(entry["seed_value"], 1) == 2445726091 and seed_at("", 0) is None


def test_text_plain_500_and_tracebacks_become_one_line():
    plain = httpx.Response(500, text="Internal Server Error", headers={"content-type": "text/plain"})
    trace = httpx.Response(500, json={"detail": "Traceback (most recent call last):\n  File x\nRuntimeError: CUDA OOM"})
    assert error_detail(plain) == "Internal Server Error"
    assert error_detail(trace) == "RuntimeError: CUDA OOM"


# ---- completion mode bodies ---------------------------------------------------------------------------

def test_completion_body_puts_prompt_and_lyrics_in_tags():
    request = song_request(api_mode="completion", audio_format="wav")
    body = build_completion_body(request, AceStepOptions.from_request(request), "acestep-v15-turbo")
    assert body["model"] == "acestep/acestep-v15-turbo"
    assert body["messages"][0]["content"] == f"<prompt>upbeat synth pop</prompt><lyrics>{LYRICS}</lyrics>"
    assert body["audio_config"] == {"duration": 7.0, "format": "wav", "vocal_language": "en", "bpm": 120,
                                    "key_scale": "C major", "time_signature": "4"}
    assert body["stream"] is False and body["batch_size"] == 1 and "sample_query" not in body


def test_completion_description_is_a_sample_query_message():
    request = song_request(api_mode="completion", description="a cheerful song about spring")
    body = build_completion_body(request, AceStepOptions.from_request(request), "m")
    assert body["messages"][0]["content"] == "a cheerful song about spring" and body["sample_mode"] is True


def test_completion_answer_is_decoded():
    data = b"ID3-fake-mp3-bytes"
    answer = {"choices": [{"message": {"content": "x", "audio": [
        {"type": "audio_url", "audio_url": {"url": "data:audio/mpeg;base64," + base64.b64encode(data).decode()}}]}}]}
    assert decode_data_url(completion_audio_url(answer)) == (data, "audio/mpeg")
    with pytest.raises(AceStepError, match="no audio"):
        completion_audio_url({"choices": [{"message": {"content": "x", "audio": None}}]})


def test_completion_content_is_read_back():
    content = ("## Metadata\n**Caption:** Gentle acoustic ballad\n**BPM:** 157\n**Duration:** 5.0s\n**Key:** D minor\n"
               "**Time Signature:** 4\n\n## Lyrics\n[Verse 1]\nSunlight through the window")
    assert parse_completion_content(content) == {
        "caption": "Gentle acoustic ballad", "bpm": "157", "duration": "5.0s", "key": "D minor",
        "time_signature": "4", "lyrics": "[Verse 1]\nSunlight through the window"}
    assert parse_completion_content("Music generated successfully.") == {}


def test_random_samples_of_both_shapes_keep_the_requested_duration():
    request = song_request()
    options = AceStepOptions(random_sample=True)
    custom = {"think": False, "caption": "j-rock", "lyrics": "[Intro]", "bpm": 100, "duration": 160,
              "keyscale": "B minor", "language": "zh", "timesignature": "4"}
    got, opts = apply_random_sample(request, options, custom)
    got_fields = (got.caption, got.key_scale, got.language, got.duration, opts.thinking)
    assert got_fields == ("j-rock", "B minor", "zh", 7, False)
    got, opts = apply_random_sample(request, options, {"description": "江南水乡", "instrumental": True,
                                                       "vocal_language": "zh"})
    assert opts.description == "江南水乡" and got.lyrics == "[inst]" and not opts.random_sample
    assert AceStepOptions.from_request(got) == opts  # resubmitting `got` makes the same song


# ---- client behaviour on answers the built-in server does not give ----------------------------------

def mock_client(handler, key: str | None = "k") -> AceStepClient:
    return AceStepClient("http://acestep.test", api_key=key, transport=httpx.MockTransport(handler))


def test_native_models_envelope_is_accepted():
    def handler(request):
        return httpx.Response(200, json={"data": {"models": [{"name": "turbo"}], "default_model": "turbo"},
                                         "code": 200, "error": None, "timestamp": 1, "extra": None})
    assert mock_client(handler).models() == ["turbo"]


def test_in_band_error_with_http_200_is_raised():
    def handler(request):
        return httpx.Response(200, json={"data": None, "code": 500, "error": "format_sample failed: boom"})
    with pytest.raises(AceStepError, match="format_sample failed: boom"):
        mock_client(handler).format_input("pop")


def test_key_is_a_bearer_header_never_in_the_body():
    seen = []

    def handler(request):
        seen.append(request)
        return httpx.Response(200, json={"data": {"task_id": "t1", "status": "queued"}, "code": 200, "error": None})
    assert mock_client(handler, key="s3cret").submit({"prompt": "x"}) == "t1"
    assert seen[0].headers["authorization"] == "Bearer s3cret"
    assert b"s3cret" not in seen[0].content and "s3cret" not in str(seen[0].url)


@pytest.mark.parametrize("key, expected", [(None, "needs an API key"), ("wrong", "rejected the API key")])
def test_401_is_permanent_and_one_line(key, expected):
    client = mock_client(lambda r: httpx.Response(401, json={"detail": "Invalid API key"}), key=key)
    with pytest.raises(AceStepAuthError, match=expected) as info:
        client.stats()
    assert not is_transient(info.value) and "ACESTEP_API_KEY" in str(info.value)


def test_429_and_5xx_stay_transient():
    for status in (429, 500, 503):
        client = mock_client(lambda r, s=status: httpx.Response(s, text="busy"))
        with pytest.raises(httpx.HTTPStatusError) as info:
            client.health()
        assert is_transient(info.value)


def test_audio_urls_on_another_host_never_get_the_key(tmp_path):
    client = mock_client(lambda r: httpx.Response(200, content=b"x"))
    with pytest.raises(AceStepError, match="another host"):
        client.download("http://elsewhere.test/v1/audio?path=%2Fa.mp3", tmp_path / "a.mp3")


def test_a_cached_running_entry_older_than_an_hour_is_reported_failed():
    """Upstream's one-hour rule (api_server.py:2367), which a task its server lost mid-run ends in."""
    running = [results.running_entry(1000, 0.8, "Decoding audio...")]
    assert results.query_item("t", running, "", now=1000 + 3599)["status"] == 0
    stale = results.query_item("t", running, "", now=1000 + 3601)
    assert stale["status"] == 2 and json.loads(stale["result"])[0]["stage"] == "Decoding audio..."
    assert results.query_item("t", [], "")["status"] == 2  # an empty cached list reads as failed


def test_uploads_go_as_multipart_and_a_500_is_not_retried_but_rejected(tmp_path):
    src = tmp_path / "src.wav"
    src.write_bytes(b"RIFF-not-really")
    seen = []

    def handler(request):
        seen.append(request)
        return httpx.Response(500, text="Internal Server Error", headers={"content-type": "text/plain"})
    with pytest.raises(UploadsRejected, match="answered the upload with 500"):
        mock_client(handler).submit({"prompt": "x", "use_format": False}, {"src_audio": src}, retries=3)
    assert len(seen) == 1  # a deterministic 500: the upload is not sent again
    body = seen[0].read()
    assert seen[0].headers["content-type"].startswith("multipart/form-data")
    assert b'name="src_audio"; filename="src.wav"' in body and b"RIFF-not-really" in body
    assert b'name="use_format"\r\n\r\nfalse' in body


def test_poll_progress_reaches_the_terminal_listeners():
    from mvflow import progress
    from mvflow.song.acestep.engine import step_progress_callback

    seen = []
    def listener(step, fraction, description):
        return seen.append((step, fraction, description))
    progress.add_listener(listener)
    try:
        report = step_progress_callback()
        report(0.4, "Decoding audio...")
    finally:
        progress.remove_listener(listener)
    assert seen == [("song", 0.4, "ACE-Step: Decoding audio...")]


# ---- issue 13: reading real servers -------------------------------------------------------------------

def test_lora_scale_rides_on_the_name_and_batch_seeds_are_one_per_audio():
    options = AceStepOptions(lora="/srv/adapters/style.safetensors:0.7")
    assert (options.lora, options.lora_scale) == ("/srv/adapters/style.safetensors", 0.7)
    assert AceStepOptions(lora="C:/adapters/style").lora == "C:/adapters/style"  # no number after ':'
    assert batch_seeds(42, 1) == 42 and batch_seeds(42, 3) == "42,43,44"
    assert AceStepOptions(takes=3).batch_size == 3


TRACEBACK = "Traceback (most recent call last):\n  File \"x.py\", line 1\nRuntimeError: {}"


@pytest.mark.parametrize("status, body, kind, transient", [
    (500, {"detail": TRACEBACK.format("5Hz LM init failed: LLM not initialized at startup.")},
     AceStepLmUnavailable, False),
    (500, {"detail": TRACEBACK.format("CUDA error: out of memory")}, AceStepJobFailed, False),
    (504, {"detail": "Generation timeout"}, AceStepGenerationTimeout, False),
    (504, "<html><title>504 Gateway Time-out</title></html>", httpx.HTTPStatusError, True),  # a proxy's
    (500, "Internal Server Error", httpx.HTTPStatusError, True),  # no traceback: not known to be the job's
])
def test_completion_failures_are_classified(status, body, kind, transient):
    def handler(request):
        if isinstance(body, dict):
            return httpx.Response(status, json=body)
        return httpx.Response(status, text=body, headers={"content-type": "text/html"})
    with pytest.raises(kind) as info:
        mock_client(handler).chat_completion({"model": "acestep/x", "messages": []})
    assert is_transient(info.value) is transient and "\n" not in str(info.value)


def test_a_status_2_that_still_shows_the_job_running_is_the_one_hour_rule_a_lost_task():
    state = TaskState(task_id="t", status=2, entries=[{"status": 0, "stage": "Decoding audio...", "progress": 0.8}])
    error = failure_error("t", state, {"thinking": True}, client=None)
    assert isinstance(error, AceStepLostTask) and "after an hour at stage 'Decoding audio...'" in str(error)


class StatsClient:
    """A client whose /v1/stats answers from a list (one answer per call)."""

    def __init__(self, *answers: dict) -> None:
        self.answers = list(answers)

    def stats(self) -> dict:
        return {"jobs": self.answers.pop(0)}


def running(stage: str = "Decoding audio...", progress: float = 0.8) -> TaskState:
    return TaskState(task_id="t", status=0, entries=[{"status": 0, "stage": stage, "progress": progress}])


def test_a_stalled_task_is_lost_when_the_server_is_idle_restarted_or_silent_too_long():
    options = AceStepOptions(stalled_after=10, stalled_limit=100)
    idle = Liveness(options)
    idle.observe(StatsClient(), running(), "t", 0.0)
    idle.observe(StatsClient(), running(), "t", 5.0)  # too soon to ask
    with pytest.raises(AceStepLostTask, match="runs nothing"):
        idle.observe(StatsClient({"total": 3, "running": 0, "queued": 0}), running(), "t", 10.0)
    busy = Liveness(options)
    busy.observe(StatsClient(), running(), "t", 0.0)
    busy.observe(StatsClient({"total": 5, "running": 1, "queued": 0}), running(), "t", 10.0)  # someone's job
    with pytest.raises(AceStepLostTask, match="runs nothing"):  # fewer jobs than before: it restarted
        busy.observe(StatsClient({"total": 1, "running": 1, "queued": 0}), running(), "t", 20.0)
    slow = Liveness(options)
    slow.observe(StatsClient(), running(), "t", 0.0)
    for at in (10.0, 20.0, 30.0):
        slow.observe(StatsClient({"total": 5, "running": 1, "queued": 0}), running(), "t", at)
    with pytest.raises(AceStepLostTask, match="for 100 s"):
        slow.observe(StatsClient(), running(), "t", 100.0)


def test_queued_moving_or_in_memory_tasks_are_never_stalled():
    options = AceStepOptions(stalled_after=1, stalled_limit=2)
    watch = Liveness(options)
    in_memory = TaskState(task_id="t", status=0, entries=[{"status": 0, "stage": "running", "progress": 0.5,
                                                           "metas": {}}])
    for at in range(10):
        watch.observe(StatsClient(), running("queued", 0.0), "t", float(at))
        watch.observe(StatsClient(), in_memory, "t", float(at) + 0.5)
        watch.observe(StatsClient(), running(progress=at / 10), "t", float(at) + 0.7)


@pytest.mark.parametrize("entry, expected", [
    ({"prompt": "LM caption", "lyrics": "[Verse]\nLM line", "seed_value": "1"}, ("LM caption", "[Verse]\nLM line")),
    ({"prompt": "", "lyrics": "", "metas": {}}, ("a song about rain", "")),  # no diskcache: not reported
])
def test_what_was_sung_is_read_from_either_shape(entry, expected):
    request = song_request(description="a song about rain").model_copy(update={"caption": "", "lyrics": ""})
    caption, lyrics, warnings = sung_text(entry, request, AceStepOptions.from_request(request))
    assert (caption, lyrics) == expected and bool(warnings) == ("seed_value" not in entry)
