"""Cover providers behind one signature: draw(caption, title, seed, (width, height), options) -> PIL image.

The registry PROVIDERS in mvflow/cover/__init__.py names these objects; each binds the options
its provider understands and says what `mvflow doctor` should check, so neither the step nor
the CLI branches on the provider's name. Each imports its drawing module when it draws: the
Gemini SDK is loaded only when Gemini is used (or checked).
"""

from __future__ import annotations

import io
import tempfile
from abc import abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from PIL import Image

from mvflow.models import CoverOptions
from mvflow.registry import Provider

if TYPE_CHECKING:
    from mvflow.registry import Check
    from mvflow.settings import Settings

#: The size of the cover a doctor check draws: enough to run every drawing stage, fast.
CHECK_SIZE = (64, 36)


class CoverProvider(Provider):
    """Makes a cover picture of an exact size for a song."""

    role: ClassVar[str] = "cover provider"
    #: True when it shows the user's own picture (chosen by --cover, not by a provider name).
    uses_picture: ClassVar[bool] = False

    @abstractmethod
    def draw(self, caption: str, title: str, seed: int, size: tuple[int, int],
             options: CoverOptions) -> Image.Image:
        """An RGB picture of exactly `size` (width, height)."""


class ProceduralCovers(CoverProvider):
    name = "local"
    description = "procedural, offline"

    def draw(self, caption: str, title: str, seed: int, size: tuple[int, int],
             options: CoverOptions) -> Image.Image:
        from mvflow.cover.procedural import procedural_cover

        return procedural_cover(caption, title, seed, size)

    def checks(self, settings: Settings) -> list[Check]:
        """Draws a tiny cover, every stage of the real one."""
        try:
            image = self.draw("doctor check", "Check", 0, CHECK_SIZE, CoverOptions(provider=self.name))
        except Exception as exc:  # noqa: BLE001 - doctor reports, never crashes
            return [self.row(False, f"cannot draw a cover: {type(exc).__name__}: {exc}")]
        return [self.row(image.size == CHECK_SIZE, f"drew a {image.width}x{image.height} test cover")]


class GeminiCovers(CoverProvider):
    name = "gemini"
    description = "a Gemini image model; needs GEMINI_API_KEY"
    needs_key = "gemini"
    sdk = "google.genai"  # checked by importing it and looking up the key: a test image would cost money

    def draw(self, caption: str, title: str, seed: int, size: tuple[int, int],
             options: CoverOptions) -> Image.Image:
        from mvflow.cover import gemini

        return gemini.gemini_cover(caption, title, seed, size, prompt=options.prompt, model=options.model)


class UserImageCovers(CoverProvider):
    name = "image"
    description = "your own picture (--cover FILE), cropped or fitted"
    uses_picture = True

    def draw(self, caption: str, title: str, seed: int, size: tuple[int, int],
             options: CoverOptions) -> Image.Image:
        """The user's own picture, cropped to fill or fitted over a blurred copy: never stretched."""
        from mvflow.cover.user_image import fit_image, load_user_image

        if options.image is None:
            raise ValueError("cover provider 'image' needs a picture: pass --cover image.png")
        return fit_image(load_user_image(options.image.path), size, mode=options.fit)  # type: ignore[arg-type]

    def checks(self, settings: Settings) -> list[Check]:
        """Reads a PNG back from a file and fits it, the way a user's picture is read."""
        from mvflow.cover.user_image import fit_image, load_user_image

        try:
            with tempfile.TemporaryDirectory(prefix="mvflow-doctor-") as folder:
                path = Path(folder) / "picture.png"
                path.write_bytes(_test_png((256, 256)))
                image = fit_image(load_user_image(path), CHECK_SIZE, mode="fit")
        except Exception as exc:  # noqa: BLE001 - doctor reports, never crashes
            return [self.row(False, f"cannot read a picture: {type(exc).__name__}: {exc}")]
        return [self.row(image.size == CHECK_SIZE, "read and fitted a test PNG")]


def _test_png(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (40, 80, 120)).save(buffer, format="PNG")
    return buffer.getvalue()


LOCAL = ProceduralCovers()
GEMINI = GeminiCovers()
IMAGE = UserImageCovers()
