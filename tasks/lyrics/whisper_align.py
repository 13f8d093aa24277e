"""Forced alignment of *known* words with faster-whisper: cross-attention + DTW, and how sure it is.

We know the words, so we ask whisper where they are instead of what they are. For a stretch of
audio (at most whisper's 30 s window) and a list of lyric lines, CTranslate2's `Whisper.align`
teacher-forces the lines' tokens through the decoder and returns (a) a monotonic token-to-frame
path from the cross-attention heads (dynamic time warping), which gives every word a start and
an end, and (b) the probability of every token given the audio and the text before it.

Those probabilities carry the language model's prior as much as the audio: common phrases, and
a chorus whose text already appeared earlier in the same call (the decoder copies it), score
well whatever is playing. So the evidence used is a *contrast*: a line's mean token
log-probability with the window's audio minus the same with a window of silence. Sung lines
score about 2.5-7, lines that are not in the window about -0.7 to 0.7 (measured on built-in
songs, clean and dense mixes). `presence` scores each line on its own (no text before it, so
nothing to copy), which tells whether a repeated line's text is in the window at all.

Everything here is plain numpy + faster-whisper; the placement rules live in forced.py.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mvflow.lyrics.whisper_local import load_model

#: Whisper's input: 16 kHz audio, 100 mel frames per second, 30 s per window; 50 encoder
#: positions (alignment steps) per second.
SAMPLE_RATE = 16_000
MEL_FRAMES_PER_S = 100
ALIGN_STEPS_PER_S = 50
WINDOW_S = 30.0
#: A "word" standing for a stretch nobody sings from the sheet (a skipped or mangled line: see
#: forced._with_gaps); whisper writes "(music)" for such audio. Without it the DTW path, which must
#: cover the whole window, hands that time to the neighbouring lines' words. Lines with the index
#: FILLER_LINE are aligned like any other and left out of the results.
FILLER = "(music)"
FILLER_LINE = -1
#: Token probabilities are floored here before the log: a token whisper finds impossible is
#: strong enough evidence; a -inf would swamp a whole line's mean.
MIN_PROB = 1e-6


@dataclass(frozen=True)
class Window:
    """One encoded stretch of audio: [start, end] seconds of the song."""

    start: float
    end: float
    encoded: object  # ctranslate2.StorageView, shape [1, 1500, d_model]
    frames: int  # mel frames that hold audio (the rest is padding)


@dataclass(frozen=True)
class AlignedWord:
    """A known word on the song's clock, with the log-probability its tokens got."""

    line: int
    text: str
    start: float
    end: float
    logprob: float
    tokens: int


class WhisperAligner:
    """Aligns known lyric lines onto one song's audio (mono float32 at 16 kHz)."""

    def __init__(self, audio: np.ndarray, model: str | None = None, language: str | None = "en") -> None:
        from faster_whisper.tokenizer import Tokenizer

        self.audio = np.asarray(audio, dtype=np.float32)
        self.whisper = load_model(model)
        self.tokenizer = Tokenizer(self.whisper.hf_tokenizer, self.whisper.model.is_multilingual, task="transcribe",
                                   language=language if self.whisper.model.is_multilingual else "en")
        self.duration = len(self.audio) / SAMPLE_RATE
        self.windows_encoded = 0
        self._silence: object | None = None

    @classmethod
    def from_file(cls, path: Path | str, model: str | None = None, language: str | None = "en") -> WhisperAligner:
        from mvflow.audio import decode_audio

        return cls(decode_audio(path, SAMPLE_RATE), model=model, language=language)

    # ---- windows ----------------------------------------------------------------------------

    def window(self, start: float, end: float) -> Window:
        """The encoder output of [start, end] (end - start <= WINDOW_S), padded as whisper expects."""
        start, end = max(0.0, start), min(self.duration, end, start + WINDOW_S)
        encoded, frames = self._encode(self.audio[int(start * SAMPLE_RATE): int(end * SAMPLE_RATE)])
        self.windows_encoded += 1
        return Window(start, end, encoded, max(1, frames))

    def _encode(self, samples: np.ndarray) -> tuple[object, int]:
        from faster_whisper.transcribe import pad_or_trim

        features = self.whisper.feature_extractor(samples)
        frames = min(features.shape[-1], int(WINDOW_S * MEL_FRAMES_PER_S))
        return self.whisper.encode(pad_or_trim(features)), frames

    def silence(self) -> object:
        """The encoder output of 30 s of silence: the 'no audio evidence' reference for contrasts."""
        if self._silence is None:
            self._silence = self._encode(np.zeros(int(WINDOW_S * SAMPLE_RATE), dtype=np.float32))[0]
        return self._silence

    # ---- alignment and evidence ---------------------------------------------------------------

    @functools.lru_cache(maxsize=4096)  # noqa: B019 - one aligner per song; lines repeat (choruses)
    def word_tokens(self, word: str) -> tuple[int, ...]:
        return tuple(self.tokenizer.encode(" " + word))

    def align(self, window: Window, lines: list[tuple[int, str]], encoded: object | None = None) -> list[AlignedWord]:
        """Every word of `lines` ((index, text) pairs, in sung order) placed inside `window`.

        The DTW path spans the whole window, so text that is not there is squeezed or stretched
        rather than left out: callers decide presence first (contrast/presence).
        """
        if not lines:
            return []
        words = [(index, word, self.word_tokens(word)) for index, text in lines for word in text.split()]
        flat = [token for _, _, tokens in words for token in tokens]
        result = self.whisper.model.align(encoded or window.encoded, self.tokenizer.sot_sequence, [flat],
                                          window.frames)[0]
        step_times = _token_start_times(result.alignments, len(flat)) / ALIGN_STEPS_PER_S
        logprobs = np.log(np.clip(np.asarray(result.text_token_probs, dtype=np.float64), MIN_PROB, 1.0))
        end_of_audio = window.frames / MEL_FRAMES_PER_S
        out, k = [], 0
        for index, word, tokens in words:
            start = step_times[k]
            end = step_times[k + len(tokens)] if k + len(tokens) < len(flat) else end_of_audio
            if index != FILLER_LINE:
                out.append(AlignedWord(index, word, window.start + float(start),
                                       window.start + float(max(start, end)),
                                       float(logprobs[k: k + len(tokens)].sum()), len(tokens)))
            k += len(tokens)
        return out

    def contrast(self, window: Window, lines: list[tuple[int, str]]) -> tuple[list[AlignedWord], dict[int, float]]:
        """(the alignment, each line's mean token log-probability with the audio minus with silence)."""
        words = self.align(window, lines)
        heard = _line_means(words)
        prior = _line_means(self.align(window, lines, encoded=self.silence()))
        return words, {index: heard[index] - prior[index] for index in heard}

    def speech_probability(self, window: Window) -> float:
        """1 - whisper's no-speech probability for the window: someone sings (or speaks) in it.

        Measured on built-in songs (clean and dense mixes): windows of one sung line 0.46-0.95,
        instrumental stretches 0.04-0.11.
        """
        prompt = [*self.tokenizer.sot_sequence, self.tokenizer.no_timestamps]
        result = self.whisper.model.generate(window.encoded, [prompt], max_length=2, return_no_speech_prob=True)
        return 1.0 - float(result[0].no_speech_prob)

    def presence(self, window: Window, lines: list[tuple[int, str]]) -> dict[int, float]:
        """Each line scored alone (nothing before it to copy): its contrast says whether its text
        is sung anywhere in the window. One batched decoder pass per reference."""
        if not lines:
            return {}
        import ctranslate2

        tokens = [[token for word in text.split() for token in self.word_tokens(word)] for _, text in lines]
        means = []
        for encoded in (window.encoded, self.silence()):
            batch = ctranslate2.StorageView.from_array(np.repeat(np.asarray(encoded), len(lines), axis=0))
            results = self.whisper.model.align(batch, self.tokenizer.sot_sequence, tokens, [window.frames] * len(lines))
            means.append([float(np.mean(np.log(np.clip(r.text_token_probs, MIN_PROB, 1.0)))) for r in results])
        return {index: heard - prior for (index, _), heard, prior in zip(lines, *means)}


def _token_start_times(alignments: list, n_tokens: int) -> np.ndarray:
    """The alignment step at which each text token starts (DTW path: (token, step) pairs)."""
    tokens = np.array([pair[0] for pair in alignments])
    steps = np.array([pair[1] for pair in alignments])
    first = np.pad(np.diff(tokens), (1, 0), constant_values=1).astype(bool)
    starts = steps[first].astype(float)
    if len(starts) < n_tokens:  # a path that never reached the last tokens: they start at its end
        starts = np.pad(starts, (0, n_tokens - len(starts)), mode="edge")
    return starts[:n_tokens]


def _line_means(words: list[AlignedWord]) -> dict[int, float]:
    """Mean token log-probability per line."""
    sums: dict[int, list[float]] = {}
    for word in words:
        if word.line == FILLER_LINE:
            continue
        total = sums.setdefault(word.line, [0.0, 0])
        total[0] += word.logprob
        total[1] += word.tokens
    return {line: value / max(1, count) for line, (value, count) in sums.items()}
