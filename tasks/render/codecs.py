"""The video codecs and quality presets the renderer offers, and which ones this ffmpeg has.

Each codec is a small table row (encoder, container, audio codec, the settings of each
`--quality` preset), registered in CODECS like every other provider (mvflow.registry), so
adding one is data, not another branch in the command builder; `mvflow doctor` checks each
one's encoders against the bundled ffmpeg.
The quality settings were chosen with benchmarks/encode_presets.py on a 2-core machine;
`standard` H.264 is the speed-tuned default the render benchmark is measured on.

Each row also says how large a frame the codec takes (`FrameLimits`: its highest level, as
the bundled encoder enforces it) and how much memory its encoder needs per frame pixel
(`EncoderMemory`); mvflow.render.limits checks a frame size against both before rendering.
"""

from __future__ import annotations

import functools
import math
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
class FrameLimits:
    """The largest frame (and frame rate) of a codec's highest level.

    A level is what a decoder promises to play; past the highest one no player has to. The
    frame is counted in the codec's coding blocks (H.264 pads a frame to whole 16x16
    macroblocks), the rate in luma samples per second.
    """

    level: str  # e.g. "H.264 level 6.2"
    max_side: int  # pixels, either side
    max_samples: int  # luma samples in a frame, counted in whole blocks
    max_rate: int  # luma samples a second
    block: int = 1  # the side of the coding block frames are padded to

    def samples(self, width: int, height: int) -> int:
        """Luma samples of a width x height frame as the level counts them (padded to whole blocks)."""
        b = self.block
        return math.ceil(width / b) * b * math.ceil(height / b) * b

    def fits(self, width: int, height: int) -> bool:
        return max(width, height) <= self.max_side and self.samples(width, height) <= self.max_samples


@dataclass(frozen=True)
class EncoderMemory:
    """The encoder's resident memory for a frame size: bytes per frame pixel, plus per encoder thread.

    Measured with benchmarks/render_memory.py (ffmpeg's peak resident size over 1080p and
    4K renders, and the encoder alone at 1..24 threads), rounded up.
    """

    per_pixel: float
    per_thread_pixel: float


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
    limits: FrameLimits
    memory: EncoderMemory
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


# Frame limits: the highest level of each codec (H.264 and H.265 level 6.2; VP9 level 6.2),
# 35,651,584 luma samples a frame for all three (H.264: 139,264 macroblocks, e.g. 8192x4352),
# and the level's sample rate. What the bundled encoders do past them (probed with one-frame
# encodes): libx264 refuses a side over 16384 ("invalid width x height"), and past the level's
# frame size only warns and writes a stream it labels 6.2 anyway; libx265 labels bigger frames
# a level of its own and encoded 32768x64 (MP4 stops at 65535); libvpx-vp9 encoded 65536x64. So
# the level, not the encoder, is the bound that keeps a video playable: H.265's longest side is
# sqrt(8 x its frame) = 16888 (whole 8-sample blocks), libvpx's level table says 16832 for VP9,
# and libx264 stops at 16384 before H.264's 16880.
#
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
    limits=FrameLimits("H.264 level 6.2", max_side=16384, max_samples=139_264 * 256,
                       max_rate=16_711_680 * 256, block=16),
    memory=EncoderMemory(per_pixel=95, per_thread_pixel=12),
)
H265 = Codec(
    "h265", "H.265 / AAC in MP4 (hvc1)", "HEVC in MP4, tagged hvc1 for Apple devices; ~2.5x the encode time",
    "libx265", "aac", "mp4", ".mp4",
    {
        "draft": Quality(crf=30, preset="superfast"),
        "standard": Quality(crf=23, preset="superfast"),
        "high": Quality(crf=21, preset="veryfast"),
    },
    limits=FrameLimits("H.265 level 6.2", max_side=16888, max_samples=35_651_584, max_rate=4_278_190_080,
                       block=8),
    memory=EncoderMemory(per_pixel=115, per_thread_pixel=16),
    tag="hvc1", min_bits_per_pixel=0.003,
)
VP9 = Codec(
    "vp9", "VP9 / Opus in WebM", "WebM with Opus audio", "libvpx-vp9", "libopus", "webm", ".webm",
    {
        "draft": Quality(crf=38, preset="realtime", cpu_used=8),
        "standard": Quality(crf=32, preset="realtime", cpu_used=6),
        "high": Quality(crf=28, preset="realtime", cpu_used=5),
    },
    limits=FrameLimits("VP9 level 6.2", max_side=16832, max_samples=35_651_584, max_rate=4_706_009_088),
    memory=EncoderMemory(per_pixel=140, per_thread_pixel=4),
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
