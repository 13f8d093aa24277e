"""Settings with one precedence rule: CLI flags > environment > config file > defaults.

The config file is `mvflow.toml` in the working directory, else `~/.config/mvflow/mvflow.toml`.
Environment variables are `MVFLOW_<SETTING>` (e.g. MVFLOW_OUTPUT_DIR). API keys are read
from the environment only when a provider needs them (see `api_key`) and never copied
into settings, task inputs, logs or files.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from tasks.artifacts import PermanentError


class Settings(BaseModel):
    output_dir: Path = Path("mvflow_output")
    engine: str = "local"
    acestep_api_url: str = "http://127.0.0.1:8001"
    acestep_api_mode: str = "native"
    transcriber: str = "auto"
    whisper_model: str | None = None
    cover_provider: str = "auto"
    width: int | None = None  # an exact size (with height); `resolution` wins when both are set
    height: int | None = None
    aspect: str | None = None  # 16:9 | 9:16 | 1:1; None: the style's canvas
    resolution: str | None = None  # 1080p | 720p | WIDTHxHEIGHT; None: the style's canvas
    fps: int = 30
    style: str = "classic"


#: Environment variables holding each provider's key, in order of preference.
KEY_ENV_VARS: dict[str, tuple[str, ...]] = {
    "acestep": ("ACESTEP_API_KEY",),
    "openai": ("OPENAI_API_KEY",),
    "elevenlabs": ("ELEVENLABS_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
}


def config_file_candidates(cwd: Path | None = None) -> list[Path]:
    cwd = cwd or Path.cwd()
    home_cfg = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config")) / "mvflow" / "mvflow.toml"
    return [cwd / "mvflow.toml", home_cfg]


def read_config_file(cwd: Path | None = None) -> tuple[dict[str, Any], Path | None]:
    """The first config file found (its [mvflow] table or top level), and its path."""
    for path in config_file_candidates(cwd):
        if path.is_file():
            try:
                data = tomllib.loads(path.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise PermanentError(f"config file {path} is not valid TOML: {exc}") from exc
            return dict(data.get("mvflow", data)), path
    return {}, None


def read_env() -> dict[str, Any]:
    """Settings given as MVFLOW_<NAME> environment variables."""
    found = {}
    for name in Settings.model_fields:
        value = os.environ.get(f"MVFLOW_{name.upper()}")
        if value not in (None, ""):
            found[name] = value
    return found


def load_settings(flags: dict[str, Any] | None = None, cwd: Path | None = None) -> Settings:
    """Merge defaults < config file < environment < flags (flags that are None are 'not given')."""
    merged: dict[str, Any] = {}
    file_values, file_path = read_config_file(cwd)
    unknown = set(file_values) - set(Settings.model_fields)
    if unknown:
        raise PermanentError(f"unknown setting(s) {sorted(unknown)} in {file_path}")
    merged.update(file_values)
    merged.update(read_env())
    merged.update({k: v for k, v in (flags or {}).items() if v is not None})
    try:
        return Settings(**merged)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise PermanentError(f"bad setting {'.'.join(map(str, first['loc']))}: {first['msg']}") from exc


def api_key(provider: str) -> str | None:
    """The provider's API key from the environment, or None. Never log or persist the value."""
    for var in KEY_ENV_VARS.get(provider, ()):
        value = os.environ.get(var)
        if value:
            return value
    return None
