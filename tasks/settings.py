"""Settings with one precedence rule: CLI flags > environment > config file > defaults.

The config file is `mvflow.toml` in the working directory, else `~/.config/mvflow/mvflow.toml`.
Environment variables are `MVFLOW_<SETTING>` (e.g. MVFLOW_OUTPUT_DIR). API keys are read
only when a provider needs them (see `api_key`): from the provider's environment variable,
else from the Prefect Secret block a `<provider>_key_block` setting names. They are never
copied into settings, task inputs, logs or files; a setting holds a block's name, not a key.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator

from mvflow.errors import InputError, PermanentError, validation_line


class Settings(BaseModel):
    output_dir: Path = Path("mvflow_output")
    engine: str = "local"
    acestep_api_url: str = "http://127.0.0.1:8001"  # several, comma-separated (or a list): a pool
    acestep_api_mode: str = "native"
    acestep_max_download_mb: float | None = None  # None: AceStepOptions' default
    transcriber: str = "auto"
    whisper_model: str | None = None
    cover_provider: str = "auto"
    # The songwriting step (`--idea`): who writes the plan, with which model, through which OpenAI-compatible
    # server (None: OpenAI itself, or OPENAI_BASE_URL), and a prompt template of your own (None: the bundled one).
    songwriter: str = "auto"
    songwriter_model: str | None = None
    songwriter_base_url: str | None = None
    songwriter_prompt: Path | None = None
    width: int | None = None  # an exact size (with height); `resolution` wins when both are set
    height: int | None = None
    aspect: str | None = None  # 16:9 | 9:16 | 1:1; None: the style's canvas
    resolution: str | None = None  # 1080p | 720p | WIDTHxHEIGHT; None: the style's canvas
    fps: int = 30
    style: str = "classic"
    codec: str = "h264"  # h264 | h265 | vp9
    outputs: str | list[str] | None = None  # "full,short,square" (mvflow.render.outputs); None: the style's, else full
    quality: str = "standard"  # draft | standard | high
    # Step retries of transient faults (MVFLOW_RETRIES / MVFLOW_RETRY_DELAY): how many, and the first
    # pause in seconds (doubling, with jitter). Read when a step is submitted.
    retries: int = Field(3, ge=0, le=20)
    retry_delay: float = Field(2.0, ge=0, le=600)
    # Base URLs of the cloud services (a local server, a proxy); None: the public endpoint. Also read
    # from the services' own variables OPENAI_BASE_URL / ELEVENLABS_BASE_URL (see base_url).
    openai_base_url: str | None = None
    elevenlabs_base_url: str | None = None
    gemini_base_url: str | None = None  # MVFLOW_GEMINI_BASE_URL
    # Rate limits of the cloud APIs (mvflow.rates): calls per second (the Prefect limit api-<provider>'s
    # slot_decay_per_second; 0 = no limit) and how many calls may go at once before the rate applies.
    gemini_calls_per_second: float = Field(0.2, ge=0)
    gemini_burst: int = Field(2, ge=1)
    openai_calls_per_second: float = Field(1.0, ge=0)
    openai_burst: int = Field(5, ge=1)
    elevenlabs_calls_per_second: float = Field(1.0, ge=0)
    elevenlabs_burst: int = Field(5, ge=1)
    # Names of Prefect Secret blocks holding keys (used when the key's environment variable is unset).
    acestep_key_block: str | None = None
    openai_key_block: str | None = None
    elevenlabs_key_block: str | None = None
    gemini_key_block: str | None = None
    songwriter_key_block: str | None = None


    @field_validator("acestep_api_url", mode="before")
    @classmethod
    def _servers_as_text(cls, value: Any) -> Any:
        """A list of servers (a config file's or batch file's) reads like the flag: comma-separated."""
        return ",".join(str(url) for url in value) if isinstance(value, list) else value


#: Environment variables holding each provider's key, in order of preference.
KEY_ENV_VARS: dict[str, tuple[str, ...]] = {
    "acestep": ("ACESTEP_API_KEY",),
    "openai": ("OPENAI_API_KEY",),
    "elevenlabs": ("ELEVENLABS_API_KEY",),
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    # the key of the OpenAI-compatible server named by songwriter_base_url (OpenAI itself uses OPENAI_API_KEY)
    "songwriter": ("MVFLOW_SONGWRITER_API_KEY",),
}


#: The services' own environment variables for their base URL; they win over the `<service>_base_url` setting.
BASE_URL_ENV_VARS: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_BASE_URL",),
    "elevenlabs": ("ELEVENLABS_BASE_URL",),
    "gemini": (),
    "songwriter": (),
}


def base_url(service: str) -> str | None:
    """The base URL to send `service`'s calls to: its environment variable, else the `<service>_base_url`
    setting (MVFLOW_<SERVICE>_BASE_URL or the config file), else None (the SDK's public endpoint)."""
    for var in BASE_URL_ENV_VARS.get(service, ()):
        value = os.environ.get(var, "").strip()
        if value:
            return value
    return getattr(load_settings(), f"{service}_base_url", None) or None


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
        raise InputError(validation_line(exc, "bad setting {where}: {message}")) from exc


def api_key(provider: str) -> str | None:
    """The provider's API key, or None. Never log or persist the value.

    From the environment (KEY_ENV_VARS) first, else from the Prefect Secret block named by
    the `<provider>_key_block` setting (config file or MVFLOW_<PROVIDER>_KEY_BLOCK).
    """
    for var in KEY_ENV_VARS.get(provider, ()):
        value = os.environ.get(var)
        if value:
            return value
    block = key_block_name(provider)
    return read_secret_block(block, provider) if block else None


def key_block_name(provider: str) -> str | None:
    """The Prefect Secret block configured for the provider's key, if any."""
    if provider not in KEY_ENV_VARS:
        return None
    return getattr(load_settings(), f"{provider}_key_block") or None


def key_source(provider: str) -> str:
    """Where the provider's key would come from, for `mvflow doctor` (never the key itself)."""
    for var in KEY_ENV_VARS.get(provider, ()):
        if os.environ.get(var):
            return f"{var} set"
    block = key_block_name(provider)
    if block:
        return f"Prefect Secret block {block!r}"
    return f"{' or '.join(KEY_ENV_VARS.get(provider, ()))} unset"


def read_secret_block(name: str, provider: str) -> str:
    """The string a Prefect Secret block holds; a missing or empty block is one clear error."""
    from prefect.blocks.system import Secret

    hint = f"(setting {provider}_key_block); create it with `prefect block create secret` or in the dashboard"
    try:
        value = Secret.load(name).get()
    except ValueError as exc:
        raise PermanentError(f"Prefect Secret block {name!r} for the {provider} key was not found {hint}") from exc
    if not isinstance(value, str) or not value.strip():
        raise PermanentError(f"Prefect Secret block {name!r} for the {provider} key holds no text key {hint}")
    return value.strip()
