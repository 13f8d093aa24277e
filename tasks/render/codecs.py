"""The video codecs and quality presets the renderer offers, and which ones this ffmpeg has.

Each codec is a small table row (encoder, container, audio codec, the settings of each
`--quality` preset), registered in CODECS like every other provider (mvflow.registry), so
adding one is data, not another branch in the command builder; `mvflow doctor` checks each
one's encoders against the bundled ffmpeg.
The quality settings were chosen with benchmarks/encode_presets.py on a 2-core machine;
`standard` H.264 is the speed-tuned default the render benchmark is measured on.
"""

from __future__ import annotations

import functools
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from mvflow.audio import ffmpeg_exe
from mvflow.errors import EncodingError
from mvflow.registry import Provider, Registry

if TYPE_CHECKING:
    from mvflow.registry import Check
    from mvflow.settings import Settings

QUALITIES = ("draft", "standard", "high")


@dataclass(frozen=True)
class Quality:
    """One `--quality` preset of one codec.

    `preset` is x264/x265's --preset, or libvpx's deadline (realtime | good);
    `cpu_used` is libvpx's speed (higher = faster), ignored by x264/x265.
    """

    crf: int
    preset: str
    cpu_used: int = 0
    params: str = ""  # extra "key=value:key=value" options for libx264 / libx265


@dataclass(frozen=True)
class Codec(Provider):
    """One --codec: what ffmpeg encodes it with, into which container, at each --quality."""

    role: ClassVar[str] = "codec"

    name: str
    label: str  # what it writes, e.g. "H.264 / AAC in MP4"
    description: str  # what to choose it for, in --help
    encoder: str  # ffmpeg video encoder
    audio_encoder: str
    container: str  # ffmpeg muxer
    extension: str
    qualities: dict[str, Quality]
    tag: str = ""  # codec tag in the container (hvc1: the HEVC flavour Apple devices play)
    # Below this many bits per pixel per frame a lyric video turns to mush; --max-size refuses it.
    min_bits_per_pixel: float = 0.004

    @property
    def encoders(self) -> tuple[str, str]:
        return self.encoder, self.audio_encoder

    def checks(self, settings: Settings) -> list[Check]:
        """Its encoders are in the bundled ffmpeg; required when it is the configured codec."""
        required = settings.codec == self.name
        detail = f"{self.label} ({' + '.join(self.encoders)})"
        try:
            missing = missing_encoders(self)
        except Exception as exc:  # noqa: BLE001 - doctor reports, never crashes
            return [self.row(False, f"cannot list ffmpeg's encoders: {exc}", required)]
        return [self.row(not missing, f"{detail}: missing {', '.join(missing)}" if missing else detail, required)]


# Measured with benchmarks/encode_presets.py (1080p30 lyric video; see the README's table):
# - h264 draft: ultrafast encodes with ~half the CPU of standard at the same PSNR, but its
#   files are ~1.5x larger (no CABAC, no lookahead); superfast was no faster than standard.
# - h265: x265 needs ~2.5x x264's CPU at any of these presets; veryfast beat 'fast' on
#   both speed and PSNR for this content.
# - vp9: the realtime deadline with row-mt is about as fast as x264 standard; the 'good'
#   deadline made ~30% smaller files at ~5x the CPU, too slow for 2 cores.
H264 = Codec(
    "h264", "H.264 / AAC in MP4", "MP4 that plays everywhere", "libx264", "aac", "mp4", ".mp4",
    {
        "draft": Quality(crf=30, preset="ultrafast"),
        # x264 veryfast with a light motion search: see EncoderSettings in encoder.py.
        "standard": Quality(crf=20, preset="veryfast", params="me=dia:subme=1"),
        "high": Quality(crf=18, preset="medium"),
    },
)
H265 = Codec(
    "h265", "H.265 / AAC in MP4 (hvc1)", "HEVC in MP4, tagged hvc1 for Apple devices; ~2.5x the encode time",
    "libx265", "aac", "mp4", ".mp4",
    {
        "draft": Quality(crf=30, preset="superfast"),
        "standard": Quality(crf=23, preset="superfast"),
        "high": Quality(crf=21, preset="veryfast"),
    },
    tag="hvc1", min_bits_per_pixel=0.003,
)
VP9 = Codec(
    "vp9", "VP9 / Opus in WebM", "WebM with Opus audio", "libvpx-vp9", "libopus", "webm", ".webm",
    {
        "draft": Quality(crf=38, preset="realtime", cpu_used=8),
        "standard": Quality(crf=32, preset="realtime", cpu_used=6),
        "high": Quality(crf=28, preset="realtime", cpu_used=5),
    },
    min_bits_per_pixel=0.003,
)

CODECS: Registry[Codec] = Registry(Codec, {
    "h264": "mvflow.render.codecs:H264",
    "h265": "mvflow.render.codecs:H265",
    "vp9": "mvflow.render.codecs:VP9",
}, error=EncodingError, unknown="unknown {role} {name!r}: choose one of {choices}")


def get_codec(name: str) -> Codec:
    """The codec called `name`, or an EncodingError listing the choices."""
    return CODECS.get(name)


def check_quality(codec: Codec, quality: str) -> Quality:
    try:
        return codec.qualities[quality]
    except KeyError:
        raise EncodingError(f"unknown quality {quality!r}: choose one of {', '.join(QUALITIES)}") from None


@functools.cache
def ffmpeg_encoders() -> frozenset[str]:
    """Names of the encoders compiled into the bundled ffmpeg."""
    proc = subprocess.run([ffmpeg_exe(), "-hide_banner", "-encoders"], capture_output=True, text=True, check=False)
    names = set()
    for line in proc.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 2 and len(parts[0]) == 6 and parts[0][0] in "VAS":
            names.add(parts[1])
    return frozenset(names)


def missing_encoders(codec: Codec) -> list[str]:
    have = ffmpeg_encoders()
    return [name for name in codec.encoders if name not in have]


def require_codec(name: str) -> Codec:
    """The codec, checked against this ffmpeg build: a clear EncodingError when it cannot encode it."""
    codec = get_codec(name)
    if missing := missing_encoders(codec):
        usable = [c.name for c in CODECS.providers() if not missing_encoders(c)]
        raise EncodingError(
            f"codec {name} needs the ffmpeg encoder(s) {', '.join(missing)}, which the bundled ffmpeg "
            f"({ffmpeg_exe()}) lacks; usable here: {', '.join(usable) or 'none'} (see `mvflow doctor`)"
        )
    return codec
