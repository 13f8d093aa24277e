"""The one provider mechanism (mvflow.registry) and `mvflow doctor`, whose rows are real checks.

Each doctor test breaks one thing for real (a closed port, an encoder missing from ffmpeg, a
drawing that fails, a config file that does not parse) and sees that row, and only the rows
that depend on it, fail.
"""

from __future__ import annotations

import sys
import textwrap

import pytest
from typer.testing import CliRunner

from mvflow.cli import app
from mvflow.errors import EncodingError, InputError, ProviderUnavailable
from mvflow.models import SongRequest
from mvflow.registry import Check, Provider, Registry, either
from mvflow.settings import Settings
from tests.support.stub_http import closed_port_url

runner = CliRunner()


class Gadget(Provider):
    role = "gadget"

    def __init__(self, name: str, description: str, needs_key: str | None = None, rows: int = 0) -> None:
        self.name, self.description, self.needs_key, self._rows = name, description, needs_key, rows

    def checks(self, settings: Settings) -> list[Check]:
        return [self.row(True, f"check {n}") for n in range(self._rows)]


PLAIN = Gadget("plain", "needs nothing")
KEYED = Gadget("keyed", "needs the OpenAI key", needs_key="openai", rows=1)
NOT_A_GADGET = object()


def gadgets(**extra: str) -> Registry[Gadget]:
    return Registry(Gadget, {"plain": f"{__name__}:PLAIN", "keyed": f"{__name__}:KEYED", **extra})


# ---- the mechanism ---------------------------------------------------------------------------------

def test_names_keep_their_order_and_unknown_names_are_one_line_naming_the_choices():
    registry = gadgets()
    assert registry.names() == list(registry) == ["plain", "keyed"] and len(registry) == 2
    assert "keyed" in registry and "other" not in registry
    assert registry.get("plain") is PLAIN and registry["keyed"] is KEYED
    with pytest.raises(InputError) as caught:
        registry.get("nope")
    assert str(caught.value) == "unknown gadget 'nope'; choose one of: plain, keyed"
    assert str(registry.unknown("nope", "auto")) == "unknown gadget 'nope'; choose one of: auto, plain, keyed"


def test_a_role_may_raise_its_own_error_in_its_own_words():
    from mvflow.render.codecs import CODECS

    with pytest.raises(EncodingError, match="^unknown codec 'av1': choose one of h264, h265, vp9$"):
        CODECS.get("av1")


def test_entries_are_imported_on_first_use(tmp_path, monkeypatch):
    """An optional dependency is only needed by the provider that uses it: listing imports nothing."""
    (tmp_path / "mvflow_lazy_gadget.py").write_text(textwrap.dedent(f"""
        from {__name__} import Gadget
        LAZY = Gadget("lazy", "imported late")
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = gadgets(lazy="mvflow_lazy_gadget:LAZY")
    assert registry.names()[-1] == "lazy" and "mvflow_lazy_gadget" not in sys.modules
    assert registry.get("lazy").description == "imported late" and "mvflow_lazy_gadget" in sys.modules
    monkeypatch.delitem(sys.modules, "mvflow_lazy_gadget")


def test_an_entry_of_another_role_is_a_bug_not_a_provider():
    with pytest.raises(TypeError, match="not a Gadget"):
        gadgets(odd=f"{__name__}:NOT_A_GADGET").get("odd")


def test_help_and_auto_come_from_the_entries(monkeypatch):
    registry = gadgets()
    assert registry.help() == "plain (needs nothing) or keyed (needs the OpenAI key)"
    assert registry.help(where=lambda g: g.needs_key is None) == "plain (needs nothing)"
    assert either([]) == "" and either(["a"]) == "a" and either(["a", "b", "c"]) == "a, b or c"
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert registry.first_with_key(["keyed", "plain"]) == "plain"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert registry.first_with_key(["keyed", "plain"]) == "keyed"


def test_registry_checks_run_each_provider_and_report_one_that_cannot_load():
    rows = gadgets(broken="mvflow_no_such_module:X").checks(Settings())
    assert [(r.name, r.ok) for r in rows] == [("gadget: keyed", True), ("gadget: broken", False), ("gadgets", True)]
    assert rows[1].detail.startswith("cannot be loaded: No module named") and rows[2].detail == "plain: loaded"


def test_every_role_loads_every_provider_as_its_own_kind():
    from mvflow.doctor import registries

    roles = {registry.role: registry for registry in registries()}
    assert set(roles) == {"songwriter", "song engine", "transcriber", "cover provider", "visualiser", "codec",
                          "timed-lyrics reader"}
    for registry in roles.values():
        for name in registry:
            provider = registry.get(name)
            assert isinstance(provider, registry.base) and provider.name == name and provider.description


# ---- engines answer what callers used to branch on -------------------------------------------------

def test_engines_say_how_they_run_and_where():
    from mvflow.song import song_limit_name, song_server, uses_submit_and_poll

    local = SongRequest(caption="pop")
    native = SongRequest(caption="pop", engine="acestep", engine_options={"api_url": "https://gpu.example"})
    completion = native.model_copy(update={"engine_options": {"api_url": "http://10.0.0.5:8001",
                                                              "api_mode": "completion", "timeout": 5}})
    assert (uses_submit_and_poll(local), song_limit_name(local)) == (False, "songs-local")
    assert (uses_submit_and_poll(native), song_server(native)) == (True, "gpu.example:443")
    assert (uses_submit_and_poll(completion), song_limit_name(completion)) == (False, "songs-10.0.0.5:8001")
    with pytest.raises(InputError, match="unknown song engine 'suno'; choose one of: local, acestep"):
        song_server(SongRequest(caption="pop", engine="suno"))


# ---- doctor: every row is a real check -------------------------------------------------------------

def rows_of(registry_name: str, settings: Settings | None = None) -> dict[str, Check]:
    from mvflow import doctor

    registry = {r.role: r for r in doctor.registries()}[registry_name]
    return {row.name: row for row in registry.checks(settings or Settings())}


def test_doctor_fails_the_acestep_rows_when_the_server_is_not_there(no_config):
    from mvflow.doctor import run_checks

    checks = {c.name: c for c in run_checks(closed_port_url())}
    assert not checks["acestep: server"].ok and "cannot reach" in checks["acestep: server"].detail
    assert "acestep: models" not in checks  # nothing more can be asked of a server that is not there
    for name in ("ffmpeg (imageio-ffmpeg)", "codec: h264", "cover provider: local", "settings"):
        assert checks[name].ok, checks[name]


def test_a_codec_whose_encoder_is_missing_fails_its_row_and_the_configured_one_fails_doctor(no_config,
                                                                                          monkeypatch):
    from mvflow.render import codecs

    monkeypatch.setattr(codecs, "ffmpeg_encoders", lambda: frozenset({"libx264", "aac"}))
    rows = rows_of("codec")
    assert rows["codec: h264"].ok and rows["codec: h264"].required
    assert not rows["codec: vp9"].ok and rows["codec: vp9"].detail.endswith("missing libvpx-vp9, libopus")
    assert not rows["codec: vp9"].required  # not the configured codec: doctor still passes
    monkeypatch.setenv("MVFLOW_ACESTEP_API_URL", closed_port_url())  # configured, not in use: not required
    args = ["doctor"]
    assert runner.invoke(app, args).exit_code == 0
    monkeypatch.setattr(codecs, "ffmpeg_encoders", lambda: frozenset({"aac"}))
    result = runner.invoke(app, args)
    assert result.exit_code == 1 and "missing libx264" in result.output


def test_the_local_covers_really_draw_and_a_failing_drawing_fails_the_row(monkeypatch):
    from mvflow.cover import procedural

    assert rows_of("cover provider")["cover provider: local"].detail == "drew a 64x36 test cover"

    def broken(*_args, **_kwargs):
        raise MemoryError("no room for a canvas")

    monkeypatch.setattr(procedural, "procedural_cover", broken)
    row = rows_of("cover provider")["cover provider: local"]
    assert not row.ok and "no room for a canvas" in row.detail


def test_cloud_rows_follow_the_key_and_never_show_it(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-canary-7f3a")
    monkeypatch.delenv("ELEVENLABS_API_KEY", raising=False)
    rows = rows_of("transcriber")
    openai, elevenlabs = rows["transcriber: openai"], rows["transcriber: elevenlabs"]
    assert openai.ok and "OPENAI_API_KEY set" in openai.detail
    assert not elevenlabs.ok and "ELEVENLABS_API_KEY unset" in elevenlabs.detail
    assert all("sk-canary-7f3a" not in row.detail for row in rows.values())


def test_the_offline_engine_and_transcriber_rows_fail_when_their_parts_are_missing(monkeypatch):
    from mvflow.lyrics import whisper_local
    from mvflow.song.builtin import espeak

    def no_voice():
        raise ProviderUnavailable("espeak-ng is not installed")

    def no_model(model=None):
        raise ProviderUnavailable("faster-whisper is not installed")

    monkeypatch.setattr(espeak, "espeak", no_voice)
    monkeypatch.setattr(whisper_local, "model_summary", no_model)
    engine, transcriber = rows_of("song engine")["song engine: local"], rows_of("transcriber")["transcriber: local"]
    assert not engine.ok and "espeak-ng is not installed" in engine.detail
    assert not transcriber.ok and "faster-whisper is not installed" in transcriber.detail


def test_a_broken_config_file_fails_the_settings_row_and_doctor(no_config):
    from mvflow.doctor import run_checks

    (no_config / "mvflow.toml").write_text("fps = \n")
    checks = {c.name: c for c in run_checks(closed_port_url())}
    assert not checks["settings"].ok and checks["settings"].required and "not valid TOML" in checks["settings"].detail
    assert checks["codec: h264"].ok  # the other rows still ran, with the defaults
    assert not checks["song engine: acestep"].ok and "not valid TOML" in checks["song engine: acestep"].detail
    (no_config / "mvflow.toml").write_text("fps = 24\n")
    assert {c.name: c for c in run_checks(closed_port_url())}["settings"].ok


def test_a_prefect_server_that_does_not_answer_fails_doctor():
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from mvflow.doctor import _check_prefect

    url = f"{closed_port_url()}/api"
    with temporary_settings({PREFECT_API_URL: url}):
        row = _check_prefect()
    assert not row.ok and row.required and f"PREFECT_API_URL={url} does not answer (ConnectError)" in row.detail


def test_the_thumbnail_command_uses_the_cover_fallback(no_config, monkeypatch, tmp_path):
    for var in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    out = tmp_path / "cover.png"
    base = ["thumbnail", "-p", "sad piano ballad", "--provider", "gemini", "--aspect", "1:1", "-o", str(out)]
    refused = runner.invoke(app, base)
    assert refused.exit_code == 1 and "no Gemini API key" in refused.output and not out.exists()
    fell_back = runner.invoke(app, [*base, "--fallback", "local"])
    assert fell_back.exit_code == 0, fell_back.output
    assert "cover provider gemini failed (no Gemini API key" in fell_back.output
    assert "using the local cover" in fell_back.output
    assert fell_back.stdout.strip() == str(out) and out.stat().st_size > 0
