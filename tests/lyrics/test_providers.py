"""Cloud transcribers through their real clients against local servers (tests/support/stt_servers.py).

The audio is real speech (espeak-ng) with a pause after every word, so the test knows where
each word is; the servers time their words from the bytes actually uploaded. No request
leaves 127.0.0.1 and no real key is ever read: the environment is cleared for every test.
"""

from __future__ import annotations

import numpy as np
import pytest

from mvflow.audio import write_wav
from mvflow.errors import PermanentError, is_transient
from mvflow.lyrics.elevenlabs_provider import forced_alignment_words, scribe_words
from mvflow.lyrics.openai_provider import openai_words
from mvflow.lyrics.providers import choose_transcriber, lyrics_prompt, transcribe
from tests.support.stt_servers import ElevenLabsSttServer, OpenAISttServer
from tests.support.stub_http import closed_port_url

SCRIPT = ["city", "lights", "are", "calling", "me", "tonight"]
OPENAI_KEY = "sk-test-0123456789"
ELEVEN_KEY = "xi-test-0123456789"
#: Seconds a returned time may sit outside the span where the word was placed.
SLACK = 0.06

ENV_VARS = (
    "OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "OPENAI_CUSTOM_HEADERS",
    "ELEVENLABS_API_KEY", "ELEVENLABS_BASE_URL",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    """No real keys or endpoints leak in; local traffic never goes through a proxy."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture(scope="module")
def spoken(tmp_path_factory):
    """(wav path, [(start, end)] where each SCRIPT word was placed): words spoken with pauses between."""
    from mvflow.song.builtin.espeak import espeak

    voice = espeak()
    rate = voice.sample_rate
    pause = np.zeros(int(0.45 * rate), np.float32)
    parts, spans, t = [np.zeros(int(0.3 * rate), np.float32)], [], 0.3
    for word in SCRIPT:
        samples = voice.synth(word)
        spans.append((t, t + len(samples) / rate))
        parts += [samples, pause]
        t += (len(samples) + len(pause)) / rate
    path = tmp_path_factory.mktemp("speech") / "song.wav"
    write_wav(path, np.concatenate(parts), rate)
    return path, spans


@pytest.fixture
def openai_server():
    with OpenAISttServer(OPENAI_KEY, SCRIPT) as server:
        yield server


@pytest.fixture
def eleven_server():
    with ElevenLabsSttServer(ELEVEN_KEY, SCRIPT) as server:
        yield server


def assert_on_spans(words, spans, texts=SCRIPT):
    """Every word has the expected text and sits where it was spoken, in order."""
    assert [w.text for w in words] == texts
    for word, (start, end) in zip(words, spans):
        assert start - SLACK <= word.start < word.end <= end + SLACK, (word, start, end)


def assert_key_only_in_header(request, key):
    assert key.encode() not in request.body
    assert all(key not in v for values in request.fields.values() for v in values)


# --------------------------------------------------------------------------- OpenAI


def test_openai_words_come_from_the_uploaded_audio(spoken, openai_server):
    path, spans = spoken
    words = openai_words(path, language="en", prompt="City lights are calling",
                         api_key=OPENAI_KEY, base_url=openai_server.base_url)

    assert_on_spans(words, spans)
    [request] = openai_server.requests
    assert request.path == "/v1/audio/transcriptions"
    assert request.value("model") == "whisper-1"
    assert request.value("response_format") == "verbose_json"
    assert request.fields["timestamp_granularities[]"] == ["word", "segment"]
    assert request.value("language") == "en"
    assert request.value("prompt") == "City lights are calling"
    assert request.files["file"].data == path.read_bytes()
    assert request.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert request.headers["x-stainless-retry-count"] == "0"
    assert_key_only_in_header(request, OPENAI_KEY)


def test_openai_key_and_base_url_from_the_environment(spoken, openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    path, spans = spoken
    assert_on_spans(openai_words(path), spans)
    assert "prompt" not in openai_server.requests[0].fields


def test_openai_without_word_times_spreads_segments_evenly(spoken, openai_server):
    openai_server.include_words = False
    words = openai_words(spoken[0], api_key=OPENAI_KEY, base_url=openai_server.base_url)

    answer = openai_server.requests[0].answer
    assert "words" not in answer and answer["segments"]
    assert [w.text for w in words] == SCRIPT
    for seg in answer["segments"]:
        inside = [w for w in words if seg["start"] <= w.start < seg["end"]]
        assert inside[0].start == pytest.approx(seg["start"]) and inside[-1].end == pytest.approx(seg["end"])
        lengths = [w.end - w.start for w in inside]
        assert max(lengths) - min(lengths) < 1e-6


def test_openai_big_file_is_reencoded_before_upload(spoken, openai_server):
    path, spans = spoken
    limit = path.stat().st_size // 3
    words = openai_words(path, api_key=OPENAI_KEY, base_url=openai_server.base_url, max_upload_bytes=limit)

    upload = openai_server.requests[0].files["file"]
    assert upload.filename == "song.mp3" and upload.content_type == "audio/mpeg"
    assert len(upload.data) <= limit
    assert upload.data[:3] == b"ID3" or upload.data[0] == 0xFF
    assert_on_spans(words, spans)  # the server decoded the MP3: timing survived the re-encode


def test_openai_file_too_big_even_reencoded_is_permanent(spoken, openai_server):
    with pytest.raises(PermanentError, match="too long for OpenAI"):
        openai_words(spoken[0], api_key=OPENAI_KEY, base_url=openai_server.base_url, max_upload_bytes=2000)
    assert openai_server.requests == []


def test_openai_rejected_key_is_one_permanent_line(spoken, openai_server):
    with pytest.raises(PermanentError) as caught:
        openai_words(spoken[0], api_key="sk-wrong-key", base_url=openai_server.base_url)
    assert str(caught.value) == "OpenAI rejected the API key: set OPENAI_API_KEY"
    assert not is_transient(caught.value)
    assert openai_server.requests[0].status == 401


@pytest.mark.parametrize("status", [429, 500, 503])
def test_openai_busy_or_failing_is_transient_and_not_retried_by_the_sdk(spoken, openai_server, status):
    openai_server.fail_next(status, "slow down", "rate_limit_exceeded" if status == 429 else None)
    with pytest.raises(Exception) as caught:
        openai_words(spoken[0], api_key=OPENAI_KEY, base_url=openai_server.base_url)
    assert is_transient(caught.value)
    assert f"HTTP {status}" in str(caught.value) and "\n" not in str(caught.value)
    assert len(openai_server.requests) == 1  # Prefect's step retries own retrying


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [(400, None, "Invalid file format"), (429, "insufficient_quota", "insufficient_quota.*current quota")],
)
def test_openai_bad_request_and_no_quota_are_permanent(spoken, openai_server, status, code, expected):
    message = "You exceeded your current quota" if code else "Invalid file format."
    openai_server.fail_next(status, message, code)
    with pytest.raises(PermanentError, match=expected) as caught:
        openai_words(spoken[0], api_key=OPENAI_KEY, base_url=openai_server.base_url)
    assert "\n" not in str(caught.value)


def test_missing_key_is_permanent_before_any_request(spoken, openai_server):
    with pytest.raises(PermanentError, match="^no OpenAI API key: set OPENAI_API_KEY$"):
        openai_words(spoken[0], base_url=openai_server.base_url)
    with pytest.raises(PermanentError, match="^no ElevenLabs API key: set ELEVENLABS_API_KEY$"):
        scribe_words(spoken[0], base_url="http://127.0.0.1:9")
    assert openai_server.requests == []


def test_missing_audio_is_permanent(tmp_path, openai_server, eleven_server):
    missing = tmp_path / "nope.wav"
    with pytest.raises(PermanentError, match="audio file not found"):
        openai_words(missing, api_key=OPENAI_KEY, base_url=openai_server.base_url)
    with pytest.raises(PermanentError, match="audio file not found"):
        scribe_words(missing, api_key=ELEVEN_KEY, base_url=eleven_server.base_url)
    assert openai_server.requests == [] and eleven_server.requests == []


@pytest.mark.parametrize("call", ["openai", "elevenlabs"])
def test_unreachable_server_is_transient(spoken, call):
    url = closed_port_url()
    with pytest.raises(ConnectionError) as caught:
        if call == "openai":
            openai_words(spoken[0], api_key=OPENAI_KEY, base_url=url + "/v1")
        else:
            scribe_words(spoken[0], api_key=ELEVEN_KEY, base_url=url)
    assert is_transient(caught.value)
    assert "127.0.0.1" in str(caught.value)


# --------------------------------------------------------------------------- ElevenLabs


def test_scribe_keeps_only_words(spoken, eleven_server):
    path, spans = spoken
    words = scribe_words(path, language="en", api_key=ELEVEN_KEY, base_url=eleven_server.base_url)

    [request] = eleven_server.requests
    kinds = {item["type"] for item in request.answer["words"]}
    assert kinds == {"word", "spacing", "audio_event"}  # the answer had all three...
    assert_on_spans(words, spans)  # ...only the words came back
    assert request.path == "/v1/speech-to-text"
    assert request.value("model_id") == "scribe_v2"
    assert request.value("timestamps_granularity") == "word"
    assert request.value("language_code") == "en"
    assert request.headers["xi-api-key"] == ELEVEN_KEY and "authorization" not in request.headers
    assert request.files["file"].data == path.read_bytes()
    assert_key_only_in_header(request, ELEVEN_KEY)


def test_scribe_without_language_lets_the_service_detect_it(spoken, eleven_server):
    scribe_words(spoken[0], api_key=ELEVEN_KEY, base_url=eleven_server.base_url)
    assert "language_code" not in eleven_server.requests[0].fields


def test_forced_alignment_returns_the_given_words_timed(spoken, eleven_server):
    path, spans = spoken
    text = "City lights are calling,\nme tonight!"
    words = forced_alignment_words(path, text, api_key=ELEVEN_KEY, base_url=eleven_server.base_url)

    [request] = eleven_server.requests
    assert request.path == "/v1/forced-alignment"
    assert request.value("text") == text
    assert set(request.fields) == {"text"}
    assert {"characters", "words", "loss"} <= set(request.answer)
    assert_on_spans(words, spans, texts=text.split())
    assert_key_only_in_header(request, ELEVEN_KEY)


@pytest.mark.parametrize(
    ("status", "code", "message", "expected"),
    [
        (401, "invalid_api_key", "Invalid API key",
         "^ElevenLabs rejected the API key: set ELEVENLABS_API_KEY$"),
        (401, "quota_exceeded", "This request exceeds your quota", "quota_exceeded"),
        (422, "text", "Field required", "text: Field required"),
        (400, "invalid_model_id", "bad model", "bad model"),
    ],
)
def test_elevenlabs_refusals_are_one_permanent_line(spoken, eleven_server, status, code, message, expected):
    eleven_server.fail_next(status, message, code)
    with pytest.raises(PermanentError, match=expected) as caught:
        scribe_words(spoken[0], api_key=ELEVEN_KEY, base_url=eleven_server.base_url)
    assert "\n" not in str(caught.value) and ELEVEN_KEY not in str(caught.value)


def test_elevenlabs_wrong_key_is_rejected_by_the_server(spoken, eleven_server):
    with pytest.raises(PermanentError, match="rejected the API key"):
        scribe_words(spoken[0], api_key="xi-wrong", base_url=eleven_server.base_url)
    assert eleven_server.requests[0].status == 401


@pytest.mark.parametrize("status", [429, 500, 502])
def test_elevenlabs_rate_limit_and_server_faults_are_transient(spoken, eleven_server, status):
    eleven_server.fail_next(status, "busy", "too_many_concurrent_requests" if status == 429 else None)
    with pytest.raises(Exception) as caught:
        forced_alignment_words(spoken[0], "city lights", api_key=ELEVEN_KEY, base_url=eleven_server.base_url)
    assert is_transient(caught.value) and not isinstance(caught.value, PermanentError)
    assert len(eleven_server.requests) == 1


# --------------------------------------------------------------------------- choosing and dispatching

LYRICS = "[Verse]\nCity lights are calling\n\n[Chorus]\nme tonight\n"


def set_keys(monkeypatch, openai: bool, elevenlabs: bool) -> None:
    if openai:
        monkeypatch.setenv("OPENAI_API_KEY", OPENAI_KEY)
    if elevenlabs:
        monkeypatch.setenv("ELEVENLABS_API_KEY", ELEVEN_KEY)


@pytest.mark.parametrize(
    ("openai", "elevenlabs", "expected"),
    [
        (False, False, "local"), (True, False, "openai"),
        (False, True, "elevenlabs"), (True, True, "elevenlabs"),
    ],
)
def test_auto_picks_the_best_provider_the_keys_allow(monkeypatch, openai, elevenlabs, expected):
    set_keys(monkeypatch, openai, elevenlabs)
    assert choose_transcriber("auto") == expected


def test_named_transcribers(monkeypatch):
    assert choose_transcriber("LOCAL") == "local"
    with pytest.raises(PermanentError, match="'openai' needs OPENAI_API_KEY"):
        choose_transcriber("openai")
    with pytest.raises(PermanentError, match="choose one of: auto, elevenlabs, local, openai"):
        choose_transcriber("whisperx")
    set_keys(monkeypatch, openai=True, elevenlabs=True)
    assert choose_transcriber("openai") == "openai"
    assert choose_transcriber("local") == "local"


def test_known_lyrics_and_elevenlabs_key_mean_forced_alignment(
    spoken, eleven_server, openai_server, monkeypatch
):
    set_keys(monkeypatch, openai=True, elevenlabs=True)
    monkeypatch.setenv("ELEVENLABS_BASE_URL", eleven_server.base_url)
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    path, spans = spoken

    words, provider = transcribe("auto", path, LYRICS, "en", None)

    assert provider == "elevenlabs"
    [request] = eleven_server.requests
    assert request.path == "/v1/forced-alignment"
    assert request.value("text") == "City lights are calling\nme tonight"  # tags and blank lines gone
    assert_on_spans(words, spans, texts=["City", "lights", "are", "calling", "me", "tonight"])
    assert openai_server.requests == []


@pytest.mark.parametrize("known", ["", None])
def test_unknown_lyrics_with_elevenlabs_key_mean_scribe(spoken, eleven_server, monkeypatch, known):
    set_keys(monkeypatch, openai=False, elevenlabs=True)
    monkeypatch.setenv("ELEVENLABS_BASE_URL", eleven_server.base_url)
    words, provider = transcribe("auto", spoken[0], known, "en", None)
    assert provider == "elevenlabs"
    assert eleven_server.requests[0].path == "/v1/speech-to-text"
    assert_on_spans(words, spoken[1])


def test_openai_gets_the_start_of_the_lyrics_as_prompt(spoken, openai_server, monkeypatch):
    set_keys(monkeypatch, openai=True, elevenlabs=False)
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.base_url)
    long_lyrics = LYRICS + "[Bridge]\n" + "\n".join(f"and the neon river number {i} runs" for i in range(20))

    words, provider = transcribe("auto", spoken[0], long_lyrics, "en", None)

    assert provider == "openai"
    assert_on_spans(words, spoken[1])
    prompt = openai_server.requests[0].value("prompt")
    assert prompt.startswith("City lights are calling me tonight and the neon river number 0 runs")
    assert "[" not in prompt and len(prompt) <= 200 and not prompt.endswith(" ")
    joined = " ".join(line for line in long_lyrics.splitlines() if line and not line.startswith("["))
    assert joined.startswith(prompt) and joined[len(prompt)] == " "  # cut between words


def test_local_transcriber_gets_model_and_language(monkeypatch, tmp_path):
    from mvflow.lyrics import whisper_local
    from mvflow.models import LyricWord

    calls = []

    def fake(audio_path, model=None, language="en", prompt=None):
        calls.append((audio_path, model, language, prompt))
        return [LyricWord(text="hi", start=0.0, end=0.5)]

    monkeypatch.setattr(whisper_local, "transcribe_words", fake)
    words, provider = transcribe("auto", tmp_path / "a.wav", LYRICS, "en", "tiny.en")
    assert provider == "local" and words[0].text == "hi"
    assert calls == [(tmp_path / "a.wav", "tiny.en", "en", None)]


def test_lyrics_prompt_cuts_between_words():
    assert lyrics_prompt([]) is None
    assert lyrics_prompt(["short line"]) == "short line"
    assert lyrics_prompt(["alpha beta gamma"], max_chars=12) == "alpha beta"
    assert lyrics_prompt(["alphabetagamma"], max_chars=5) == "alpha"


# --------------------------------------------------------------------------- rate limits


def test_every_cloud_call_takes_a_rate_limit_slot_first(spoken, openai_server, eleven_server, monkeypatch):
    """The slot (mvflow.rates) is taken before the request leaves: a call waiting for it sends nothing."""
    from mvflow.lyrics import elevenlabs_provider, openai_provider

    taken: list[tuple[str, int]] = []
    servers = {"openai": openai_server, "elevenlabs": eleven_server}
    slot = lambda provider: taken.append((provider, len(servers[provider].requests)))  # noqa: E731
    monkeypatch.setattr(openai_provider, "api_call_slot", slot)
    monkeypatch.setattr(elevenlabs_provider, "api_call_slot", slot)
    path, _ = spoken
    openai_words(path, api_key=OPENAI_KEY, base_url=openai_server.base_url)
    elevenlabs_provider.scribe_words(path, api_key=ELEVEN_KEY, base_url=eleven_server.base_url)
    assert taken == [("openai", 0), ("elevenlabs", 0)]
    assert len(openai_server.requests) == 1 and len(eleven_server.requests) == 1
