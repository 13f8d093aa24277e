"""A thin ctypes binding to libespeak-ng as shipped by the `espeakng-loader` wheel.

The built-in song engine uses it to make a voice sing lyric words: no apt package,
no subprocess, just the shared library and its data folder from PyPI. espeak-ng keeps
global state, so every call goes through one lock.
"""

from __future__ import annotations

import ctypes
import functools
import threading
from pathlib import Path

import numpy as np

from mvflow.errors import ProviderUnavailable

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_CHARS_UTF8 = 1
_POS_CHARACTER = 1
_PARAM = {"rate": 1, "volume": 2, "pitch": 3, "range": 4, "wordgap": 7}

_SYNTH_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class Espeak:
    """One initialised espeak-ng library. Use `espeak()` to get the shared instance."""

    def __init__(self) -> None:
        try:
            import espeakng_loader
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ProviderUnavailable(
                "espeak-ng is not installed: pip install -e '.[offline]' (brings espeakng-loader)"
            ) from exc
        data_path = Path(espeakng_loader.get_data_path())
        self._lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self._lib.espeak_Initialize.restype = ctypes.c_int
        self._lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        self._lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        self._lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self._lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]
        # espeak wants the folder that *contains* espeak-ng-data.
        rate = self._lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, str(data_path.parent).encode(), 0)
        if rate <= 0:
            raise ProviderUnavailable(f"espeak-ng failed to initialise with data at {data_path}")
        self.sample_rate = rate
        self._chunks: list[np.ndarray] = []
        self._callback = _SYNTH_CALLBACK(self._collect)  # keep a reference: C holds the pointer
        self._lib.espeak_SetSynthCallback(self._callback)
        self._lock = threading.Lock()

    def _collect(self, wav, numsamples, events) -> int:  # noqa: ANN001 - C callback
        if numsamples > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(numsamples,)).copy())
        return 0

    def synth(
        self,
        text: str,
        voice: str = "en-us",
        rate: int = 150,
        pitch: int = 50,
        pitch_range: int = 50,
        volume: int = 100,
    ) -> np.ndarray:
        """Speak `text`; return float32 mono samples at `self.sample_rate`.

        rate is words per minute (80-450); pitch and pitch_range are 0-100
        (pitch_range 0 gives a monotone voice, which the engine retunes to melody notes).
        """
        encoded = text.encode("utf-8") + b"\0"
        with self._lock:
            self._chunks = []
            if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ValueError(f"espeak-ng has no voice named {voice!r}")
            for name, value in (("rate", rate), ("pitch", pitch), ("range", pitch_range), ("volume", volume)):
                self._lib.espeak_SetParameter(_PARAM[name], int(value), 0)
            buf = ctypes.create_string_buffer(encoded)
            self._lib.espeak_Synth(buf, len(encoded), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
            self._lib.espeak_Synchronize()
            chunks, self._chunks = self._chunks, []
        if not chunks:
            return np.zeros(0, dtype=np.float32)
        return (np.concatenate(chunks).astype(np.float32) / 32768.0)


@functools.cache
def espeak() -> Espeak:
    """The process-wide espeak-ng instance (initialised on first use)."""
    return Espeak()
