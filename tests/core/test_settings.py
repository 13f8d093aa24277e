import pytest

from mvflow.errors import PermanentError
from mvflow.settings import api_key, load_settings


def test_precedence_flags_over_env_over_file_over_defaults(no_config, monkeypatch):
    assert load_settings().fps == 30
    (no_config / "mvflow.toml").write_text("fps = 24\nwidth = 1280\nheight = 720\n")
    assert load_settings().fps == 24
    monkeypatch.setenv("MVFLOW_FPS", "25")
    s = load_settings()
    assert (s.fps, s.width) == (25, 1280)
    assert load_settings({"fps": 60, "width": None}).fps == 60


def test_home_config_file_is_used(no_config):
    cfg = no_config / "xdg" / "mvflow"
    cfg.mkdir(parents=True)
    (cfg / "mvflow.toml").write_text("[mvflow]\nengine = 'acestep'\n")
    assert load_settings().engine == "acestep"


def test_bad_config_is_one_clear_error(no_config):
    (no_config / "mvflow.toml").write_text("colour = 'red'\n")
    with pytest.raises(PermanentError, match="unknown setting"):
        load_settings()
    (no_config / "mvflow.toml").write_text("fps = 'fast'\n")
    with pytest.raises(PermanentError, match="fps"):
        load_settings()


def test_api_key_from_env_only(monkeypatch):
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.setenv("GOOGLE_API_KEY", "g-key")
    assert api_key("gemini") == "g-key"
    monkeypatch.delenv("GOOGLE_API_KEY")
    assert api_key("gemini") is None


def test_api_key_from_a_prefect_secret_block_when_the_env_has_none(prefect_harness, no_config, monkeypatch):
    from prefect.blocks.system import Secret

    from mvflow.doctor import run_checks

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    Secret(value="block-key-7f3a").save("mvflow-test-openai", overwrite=True)
    (no_config / "mvflow.toml").write_text("openai_key_block = 'mvflow-test-openai'\n")
    assert api_key("openai") == "block-key-7f3a"
    checks = {c.name: c for c in run_checks("http://127.0.0.1:9")}
    assert checks["key: openai"].ok and "Secret block 'mvflow-test-openai'" in checks["key: openai"].detail
    assert all("block-key-7f3a" not in c.detail for c in checks.values())
    monkeypatch.setenv("OPENAI_API_KEY", "env-key")  # the environment wins
    assert api_key("openai") == "env-key"


def test_a_missing_secret_block_is_one_clear_error(prefect_harness, no_config, monkeypatch):
    monkeypatch.delenv("ELEVENLABS_API_KEY", raising=False)
    monkeypatch.setenv("MVFLOW_ELEVENLABS_KEY_BLOCK", "no-such-block")
    with pytest.raises(PermanentError, match="Secret block 'no-such-block' for the elevenlabs key was not found"):
        api_key("elevenlabs")
