import pytest

from tasks.artifacts import PermanentError
from tasks.config import api_key, load_settings


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
