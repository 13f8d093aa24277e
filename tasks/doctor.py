"""`mvflow doctor`: which engines/providers are usable on this machine and why not.

Every row is a check that really ran: ffmpeg is found, every registered provider of every role
(mvflow.registry) checks what it needs (a codec its encoders, the local engine its voice, the
local transcriber its model, ACE-Step its server, a cloud provider its SDK and key, the local
covers draw one), the keys are looked up (shown as set/unset, never their value), the Prefect
server answers, the config file parses and the settings are valid. A provider added to a registry gets its rows here
without a change to this module.
"""

from __future__ import annotations

import os
from pathlib import Path

from mvflow.errors import PermanentError
from mvflow.registry import Check, Registry
from mvflow.settings import KEY_ENV_VARS, Settings, api_key, key_source, load_settings, read_config_file

#: Seconds the Prefect server gets to answer its health check.
PREFECT_TIMEOUT = 3.0


def registries() -> list[Registry]:
    """Every role's registry, in the order doctor lists them."""
    from mvflow.cover import PROVIDERS
    from mvflow.lyrics.providers import TRANSCRIBERS
    from mvflow.lyrics.readers import READERS
    from mvflow.render.codecs import CODECS
    from mvflow.render.visualiser import VISUALISERS
    from mvflow.song.engines import ENGINES
    from mvflow.songwriting.providers import SONGWRITERS

    return [CODECS, SONGWRITERS, ENGINES, TRANSCRIBERS, PROVIDERS, VISUALISERS, READERS]


def _check_ffmpeg() -> Check:
    try:
        from mvflow.audio import ffmpeg_exe

        return Check("ffmpeg (imageio-ffmpeg)", True, ffmpeg_exe(), required=True)
    except Exception as exc:  # noqa: BLE001 - report, don't crash
        return Check("ffmpeg (imageio-ffmpeg)", False, f"missing: {exc}", required=True)


def _check_keys() -> list[Check]:
    return [_check_key(provider) for provider in KEY_ENV_VARS]


def _check_key(provider: str) -> Check:
    """Whether the provider's key can be read, and from where (env or a Secret block); never the key."""
    try:
        usable = api_key(provider) is not None
    except PermanentError as exc:
        return Check(f"key: {provider}", False, str(exc))
    return Check(f"key: {provider}", usable, key_source(provider))


def _check_prefect() -> Check:
    """A configured Prefect server must answer (every run talks to it); without one, runs start a
    temporary server, which needs a writable PREFECT_HOME for its database."""
    from prefect.settings import PREFECT_API_URL, PREFECT_HOME

    url = PREFECT_API_URL.value()
    if not url:
        home = Path(PREFECT_HOME.value()).expanduser()
        writable = _writable(home)
        detail = (f"no PREFECT_API_URL: each run starts a temporary local server (database in {home}"
                  f"{'' if writable else ', which is not writable: set PREFECT_HOME'})")
        return Check("prefect", writable, detail, required=True)
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True, httpx_settings={"timeout": PREFECT_TIMEOUT}) as client:
        problem = client.api_healthcheck()
    if problem is not None:
        return Check("prefect", False, f"PREFECT_API_URL={url} does not answer ({type(problem).__name__}): "
                                       "start it (`prefect server start`) or unset PREFECT_API_URL", required=True)
    return Check("prefect", True, f"PREFECT_API_URL={url} answers")


def _writable(folder: Path) -> bool:
    """True when `folder` can be written, or created in the nearest folder above it that exists."""
    existing = next((p for p in (folder, *folder.parents) if p.exists()), folder.anchor)
    return os.access(existing, os.W_OK)


def _settings_and_config_check(api_url: str | None) -> tuple[Settings, Check]:
    """The settings doctor checks with (`api_url` over the configured ACE-Step server), and their
    row: the config file parses, and every setting in it and in MVFLOW_* is known and valid. A
    broken one is reported and the defaults are used, so the other rows still run. A server named
    with `--api-url` is checked as the engine in use (its failures make doctor exit 1)."""
    flags = {"acestep_api_url": api_url, "engine": "acestep" if api_url else None}
    try:
        settings = load_settings(flags)
        _, path = read_config_file()
    except PermanentError as exc:
        return Settings(**{k: v for k, v in flags.items() if v is not None}), \
            Check("settings", False, str(exc), required=True)
    found = f"config file {path} read" if path else "no config file (mvflow.toml or ~/.config/mvflow/mvflow.toml)"
    return settings, Check("settings", True, f"{found}; MVFLOW_* variables valid", required=True)


def run_checks(api_url: str | None = None) -> list[Check]:
    """Every row, in order: ffmpeg, each role's providers, keys, Prefect, the settings."""
    settings, config = _settings_and_config_check(api_url)
    rows = [_check_ffmpeg()]
    for registry in registries():
        rows.extend(registry.checks(settings))
    return [*rows, *_check_keys(), _check_prefect(), config]
