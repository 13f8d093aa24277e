"""The gemini cover provider through the real google-genai client, against tests/support/gemini_server.py.

Every test passes a 127.0.0.1 base_url: nothing here can reach Google.
"""

from __future__ import annotations

import logging
import pickle
import socket

import pytest

from mvflow.cover.gemini import (
    BASE_URL_ENV,
    DEFAULT_MODEL,
    FALLBACK_MODELS,
    RetryPolicy,
    gemini_cover,
    gemini_image,
    image_size_for,
    nearest_aspect,
)
from mvflow.errors import GeminiBlocked, GeminiUnavailable, PermanentError, is_transient
from tests.support.gemini_server import GeminiStub

KEY = "test-key-5f3a9c"


@pytest.fixture(autouse=True)
def no_real_gemini(monkeypatch):
    """No key or endpoint from the environment may leak in (tests pass their own), and a test that
    forgets its base_url hits a dead local port (the SDK's own override), never Google."""
    for var in ("GEMINI_API_KEY", "GOOGLE_API_KEY", BASE_URL_ENV, "GOOGLE_GENAI_API_VERSION"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", "http://127.0.0.1:9")


@pytest.fixture
def stub():
    with GeminiStub() as server:
        yield server


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def retry(sleeps) -> RetryPolicy:
    """Four tries whose waits are recorded instead of slept."""
    return RetryPolicy(tries=4, base_delay=0.01, max_delay=0.05, sleep=sleeps.append)


def image(stub: GeminiStub, retry: RetryPolicy, **kwargs):
    kwargs.setdefault("api_key", KEY)
    return gemini_image("a neon city at night", "16:9", base_url=stub.url, retry=retry, **kwargs)


def assert_one_clean_line(exc: BaseException) -> None:
    message = str(exc)
    assert "\n" not in message and KEY not in message
    # No SDK error (whose response holds the request headers, key included) chained on.
    assert exc.__cause__ is None and (exc.__context__ is None or exc.__suppress_context__)


# -- success ------------------------------------------------------------------------------------


def test_success_sends_the_image_request_and_returns_the_png(stub, retry):
    result = image(stub, retry)
    assert result.mode == "RGB" and result.size == (256, 144)
    (seen,) = stub.requests
    assert (seen.version, seen.model) == ("v1beta", DEFAULT_MODEL)
    assert seen.headers["x-goog-api-key"] == KEY
    assert seen.generation_config["responseModalities"] == ["IMAGE"]
    assert seen.image_config == {"aspectRatio": "16:9", "imageSize": "2K"}
    assert seen.prompt == "a neon city at night"


def test_cover_is_cropped_to_the_exact_size_in_the_nearest_aspect(stub, retry):
    background = gemini_cover(
        "dreamy synthwave, female vocal",
        "Night Drive",
        7,
        (1920, 1080),
        api_key=KEY,
        base_url=stub.url,
        retry=retry,
    )
    square = gemini_cover(
        "dreamy synthwave", "Night Drive", 7, (1024, 1024), api_key=KEY, base_url=stub.url, retry=retry
    )
    assert background.size == (1920, 1080) and square.size == (1024, 1024)
    wide, sq = stub.requests
    assert wide.image_config == {"aspectRatio": "16:9", "imageSize": "2K"}
    assert sq.image_config == {"aspectRatio": "1:1", "imageSize": "1K"}
    assert wide.generation_config["seed"] == 7
    assert "synthwave" in wide.prompt and "no text" in wide.prompt.lower() and "vocal" not in wide.prompt


def test_cover_prompt_override_is_sent_verbatim(stub, retry):
    gemini_cover(
        "rock", "Fire", 1, (640, 640), prompt="a red fox in snow", api_key=KEY, base_url=stub.url, retry=retry
    )
    assert stub.requests[0].prompt == "a red fox in snow"


def test_key_and_base_url_come_from_the_environment(stub, retry, monkeypatch):
    monkeypatch.setenv("GOOGLE_API_KEY", KEY)
    monkeypatch.setenv(BASE_URL_ENV, stub.url)
    gemini_image("x", "1:1", retry=retry)
    assert stub.requests[0].headers["x-goog-api-key"] == KEY


def test_draft_thought_images_are_skipped(stub, retry):
    stub.draft_images = True
    result = image(stub, retry)
    assert result.getpixel((0, 0)) == (40, 90, 160)  # the final image, not the red draft


# -- transient faults -----------------------------------------------------------------------------


def test_429_is_retried_with_growing_backoff_then_succeeds(stub, retry, sleeps):
    stub.fail(429, times=2)
    assert image(stub, retry).size == (256, 144)
    assert len(stub.requests) == 3
    assert len(sleeps) == 2 and sleeps[0] < sleeps[1] <= retry.max_delay


def test_server_retry_delay_is_honoured_within_the_cap(stub, sleeps):
    stub.fail(429, retry_delay="7s")
    image(stub, RetryPolicy(base_delay=0.01, max_delay=10, sleep=sleeps.append))
    assert sleeps == [7.0]


def test_5xx_is_retried(stub, retry):
    stub.fail(500)
    stub.fail(503)
    image(stub, retry)
    assert len(stub.requests) == 3


@pytest.mark.parametrize("code", [429, 503])
def test_persistent_overload_ends_in_a_transient_error_for_prefect(stub, retry, sleeps, code):
    stub.fail(code, times=10)
    with pytest.raises(GeminiUnavailable) as caught:
        image(stub, retry)
    assert len(stub.requests) == retry.tries and len(sleeps) == retry.tries - 1
    assert caught.value.status_code == code and is_transient(caught.value)
    assert f"answered {code}" in str(caught.value)
    assert_one_clean_line(caught.value)


def test_unreachable_server_is_transient(retry):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(GeminiUnavailable, match="cannot reach Gemini") as caught:
        gemini_image("x", "1:1", api_key=KEY, base_url=f"http://127.0.0.1:{port}", retry=retry)
    assert caught.value.status_code is None and is_transient(caught.value)


# -- retired models -----------------------------------------------------------------------------


def test_404_model_falls_back_to_the_next_model(stub, retry, caplog):
    stub.retire(DEFAULT_MODEL)
    with caplog.at_level(logging.WARNING, logger="mvflow.cover.gemini"):
        assert image(stub, retry).size == (256, 144)
    first, second = stub.requests
    assert (first.model, second.model) == (DEFAULT_MODEL, FALLBACK_MODELS[0])
    assert second.image_config == {"aspectRatio": "16:9"}  # Gemini 2.x has one size: no imageSize
    assert any(DEFAULT_MODEL in r.getMessage() and "404" in r.getMessage() for r in caplog.records)


def test_configured_model_is_tried_first(stub, retry):
    image(stub, retry, model="gemini-3-pro-image-preview")
    assert stub.requests[0].model == "gemini-3-pro-image-preview"


def test_every_model_retired_is_one_clear_permanent_error(stub, retry):
    stub.retire(DEFAULT_MODEL, *FALLBACK_MODELS)
    with pytest.raises(PermanentError, match="all answered 404") as caught:
        image(stub, retry)
    assert DEFAULT_MODEL in str(caught.value) and not is_transient(caught.value)
    assert_one_clean_line(caught.value)


# -- refusals and bad requests ----------------------------------------------------------------------


def test_image_safety_block_names_the_reason_and_is_not_retried(stub, retry):
    stub.block_image("IMAGE_SAFETY")
    with pytest.raises(GeminiBlocked) as caught:
        image(stub, retry)
    assert caught.value.reason == "IMAGE_SAFETY"
    assert "IMAGE_SAFETY" in str(caught.value) and "safety" in str(caught.value)
    assert "--cover-fallback local" in str(caught.value)
    assert len(stub.requests) == 1 and not is_transient(caught.value)
    assert_one_clean_line(caught.value)


def test_prompt_block_reason_is_reported(stub, retry):
    stub.block_prompt("PROHIBITED_CONTENT")
    with pytest.raises(GeminiBlocked, match="PROHIBITED_CONTENT") as caught:
        image(stub, retry)
    assert caught.value.reason == "PROHIBITED_CONTENT"


def test_text_instead_of_an_image_is_reported_with_what_the_model_said(stub, retry):
    stub.block_image("STOP", text="I can only describe\nthis scene.")
    with pytest.raises(GeminiBlocked, match="I can only describe this scene") as caught:
        image(stub, retry)
    assert caught.value.reason == "STOP"
    assert_one_clean_line(caught.value)


def test_400_is_one_line_never_retried_and_never_shows_the_key(stub, retry, sleeps):
    stub.fail(400, message=f"Invalid value at 'generation_config.image_config' for key {KEY}\n(see docs)")
    with pytest.raises(PermanentError) as caught:
        image(stub, retry)
    message = str(caught.value)
    assert "400 INVALID_ARGUMENT" in message and DEFAULT_MODEL in message and "***" in message
    assert len(stub.requests) == 1 and sleeps == [] and not is_transient(caught.value)
    assert_one_clean_line(caught.value)


def test_bad_key_says_which_variable_to_fix(stub, retry):
    stub.fail(400, message="API key not valid. Please pass a valid API key.")
    with pytest.raises(PermanentError, match="check GEMINI_API_KEY / GOOGLE_API_KEY"):
        image(stub, retry)


def test_missing_key_fails_before_any_request(stub, retry):
    with pytest.raises(PermanentError, match="GEMINI_API_KEY or GOOGLE_API_KEY"):
        image(stub, retry, api_key=None)
    assert stub.requests == []


# -- choosing the request ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "aspect"),
    [
        ((1920, 1080), "16:9"),
        ((1024, 1024), "1:1"),
        ((1080, 1920), "9:16"),
        ((1440, 1080), "4:3"),
        ((2560, 1080), "21:9"),
        ((1080, 1350), "4:5"),
        ((1000, 990), "1:1"),
    ],
)
def test_nearest_aspect(size, aspect):
    assert nearest_aspect(*size) == aspect


def test_image_size_covers_the_longer_side():
    assert [image_size_for(s) for s in [(1024, 1024), (1920, 1080), (3840, 2160), (8000, 10)]] == [
        "1K",
        "2K",
        "4K",
        "4K",
    ]


def test_errors_survive_pickling_as_prefect_may_persist_them(stub, retry):
    stub.block_image("IMAGE_SAFETY")
    stub.fail(503, times=10)
    with pytest.raises(GeminiBlocked) as blocked:
        image(stub, retry)
    with pytest.raises(GeminiUnavailable) as unavailable:
        image(stub, retry)
    for exc in (blocked.value, unavailable.value):
        copy = pickle.loads(pickle.dumps(exc))
        assert type(copy) is type(exc) and str(copy) == str(exc) and KEY not in repr(copy.__dict__)
    assert pickle.loads(pickle.dumps(blocked.value)).reason == "IMAGE_SAFETY"
    assert pickle.loads(pickle.dumps(unavailable.value)).status_code == 503
