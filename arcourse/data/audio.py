"""Audio that works offline, and µ-law: synthetic music from a seeded generator, or your own
WAV file, turned into the integer levels a WaveNet predicts.

The synthetic clips are melodies and chords of notes on a pentatonic scale, each note a
sum of harmonics (the "instrument" sets their weights) shaped by an attack/decay/release
envelope, at 8 kHz by default. Loudness varies from clip to clip, so quiet passages are
common: the case where µ-law quantisation pays off. Samples are float32 in [-1, 1].
"""
from __future__ import annotations

import wave
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from arcourse._checks import check_int, check_number

SAMPLE_RATE = 8000  # Hz: telephone quality, enough for notes up to ~1 kHz with harmonics

# relative amplitudes of harmonics 1, 2, 3, ... for each timbre
INSTRUMENTS: dict[str, tuple[float, ...]] = {
    "sine": (1.0,),
    "organ": (1.0, 0.5, 0.33, 0.25),
    "clarinet": (1.0, 0.0, 0.4, 0.0, 0.25, 0.0, 0.15),  # odd harmonics: a hollow, reedy sound
}

_PENTATONIC = (0, 2, 4, 7, 9)  # semitones above the root of each octave


def midi_to_frequency(note: float) -> float:
    """The frequency in Hz of MIDI note `note` (69 = A4 = 440 Hz, 12 notes per octave)."""
    return 440.0 * 2.0 ** ((note - 69) / 12)


def tone(frequency: float | Sequence[float], duration: float, *, sample_rate: int = SAMPLE_RATE,
         amplitude: float = 0.5, instrument: str = "sine", attack: float = 0.01, decay: float = 3.0,
         release: float = 0.03) -> np.ndarray:
    """One note, or a chord when `frequency` lists several pitches, with an envelope.

    Each pitch is the sum of the instrument's harmonics; harmonics above the Nyquist
    frequency (sample_rate / 2) are left out, so nothing aliases.

    Args:
        frequency: pitch in Hz, or a sequence of pitches sounded together.
        duration: seconds.
        amplitude: peak of the result, in (0, 1].
        instrument: a key of INSTRUMENTS.
        attack, release: seconds of linear fade-in and fade-out (no clicks).
        decay: exponential decay rate per second while the note sounds (0: sustained).
    Returns:
        (T,) float32 samples in [-amplitude, amplitude], T = round(duration * sample_rate).
    """
    check_int("sample_rate", sample_rate, 1)
    check_number("duration", duration, 0, low_open=True)
    if not 0 < amplitude <= 1:
        raise ValueError(f"amplitude must lie in (0, 1], got amplitude={amplitude!r}")
    if instrument not in INSTRUMENTS:
        raise ValueError(f"instrument must be one of {sorted(INSTRUMENTS)}, got instrument={instrument!r}")
    if attack < 0 or release < 0 or decay < 0:
        raise ValueError(f"attack, release and decay must be >= 0, got {attack}, {release}, {decay}")
    pitches = np.atleast_1d(np.asarray(frequency, dtype=np.float64))
    if pitches.ndim != 1 or len(pitches) == 0 or not np.all((pitches > 0) & (pitches < sample_rate / 2)):
        raise ValueError(f"frequency must be one or more pitches in (0, sample_rate/2 = {sample_rate / 2:g}) Hz, "
                         f"got {frequency!r}")
    n = max(1, round(duration * sample_rate))
    t = np.arange(n) / sample_rate
    wave_ = np.zeros(n)
    for pitch in pitches:
        for k, weight in enumerate(INSTRUMENTS[instrument], start=1):
            if weight and k * pitch < sample_rate / 2:
                wave_ += weight * np.sin(2 * np.pi * k * pitch * t)
    envelope = np.exp(-decay * t)
    envelope *= np.clip(t / attack, 0, 1) if attack else 1.0
    envelope *= np.clip((duration - t) / release, 0, 1) if release else 1.0
    wave_ *= envelope
    peak = np.abs(wave_).max()
    return (amplitude * wave_ / peak if peak > 0 else wave_).astype(np.float32)


def melody(notes: Sequence[tuple[float | Sequence[float], float]], *, sample_rate: int = SAMPLE_RATE,
           amplitude: float = 0.5, instrument: str = "sine") -> np.ndarray:
    """Notes (or chords) played one after another.

    Args:
        notes: (frequency or frequencies in Hz, duration in seconds) per note.
    Returns:
        (T,) float32 samples, every note peaking at `amplitude`.
    """
    if len(notes) == 0:
        raise ValueError("notes must hold at least one (frequency, duration) pair")
    return np.concatenate([tone(f, d, sample_rate=sample_rate, amplitude=amplitude, instrument=instrument)
                           for f, d in notes])


def synthetic_music(n_clips: int, duration: float = 1.0, *, sample_rate: int = SAMPLE_RATE,
                    instruments: Sequence[str] = ("sine", "clarinet"), chord_probability: float = 0.2,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random short melodies: pentatonic notes from A3 to A5 lasting 1/8, 1/4 or 1/2 s,
    sometimes chords, each clip on one instrument at one loudness.

    Args:
        n_clips: how many clips.
        duration: seconds per clip.
        instruments: the timbres to draw from (keys of INSTRUMENTS); clip i uses
            instruments[labels[i]], which makes a label for global conditioning.
        chord_probability: chance that a note is a chord of two or three pitches.
        seed: the clips are a function of the seed alone.
    Returns:
        (clips (N, T) float32 in [-1, 1], labels (N,) int64 index into `instruments`).
    """
    check_int("n_clips", n_clips, 1)
    check_number("duration", duration, 0, low_open=True)
    if len(instruments) == 0 or any(name not in INSTRUMENTS for name in instruments):
        raise ValueError(f"instruments must name at least one of {sorted(INSTRUMENTS)}, got {instruments!r}")
    if not 0 <= chord_probability <= 1:
        raise ValueError(f"chord_probability must lie in [0, 1], got {chord_probability!r}")
    rng = np.random.default_rng(seed)
    scale = [57 + 12 * octave + step for octave in range(2) for step in _PENTATONIC] + [81]  # A3 .. A5
    n = round(duration * sample_rate)
    clips = np.zeros((n_clips, n), dtype=np.float32)
    labels = rng.integers(len(instruments), size=n_clips)
    for i in range(n_clips):
        loudness = float(np.exp(rng.uniform(np.log(0.05), np.log(0.9))))  # quiet clips are common
        notes, total = [], 0.0
        while total < duration:
            length = float(rng.choice([0.125, 0.25, 0.5]))
            size = rng.choice([2, 3]) if rng.random() < chord_probability else 1
            pitches = [midi_to_frequency(m) for m in rng.choice(scale, size=size, replace=False)]
            notes.append((pitches, length))
            total += length
        audio = melody(notes, sample_rate=sample_rate, amplitude=loudness, instrument=instruments[labels[i]])
        clips[i] = audio[:n]
    return clips, labels.astype(np.int64)


def audio_batches(clips: torch.Tensor, context_len: int, batch_size: int, *, conditions: torch.Tensor | None = None,
                  seed: int = 0) -> Callable[[], tuple[torch.Tensor, ...]]:
    """Random windows of quantised clips for `train(batches=...)`; a window never spans two
    clips.

    Args:
        clips: (N, T) int64 level ids (e.g. `mu_law_encode` of `synthetic_music`).
        context_len: time steps per window; needs T > context_len.
        conditions: optional (N,) int64 label per clip, returned with each window.
    Returns:
        a function giving (inputs (B, T), targets (B, T)) with targets shifted by one,
        plus conditions (B,) when given; windows drawn with a private, seeded generator.
    """
    clips = torch.as_tensor(clips)
    if clips.ndim != 2 or clips.is_floating_point():
        raise ValueError(f"clips must be an (N, T) integer tensor of level ids, got shape {tuple(clips.shape)} "
                         f"and dtype {clips.dtype}")
    check_int("context_len", context_len, 1)
    check_int("batch_size", batch_size, 1)
    if clips.shape[1] <= context_len:
        raise ValueError(f"clips of {clips.shape[1]} samples are too short for context_len={context_len}")
    if conditions is not None:
        conditions = torch.as_tensor(conditions)
        if conditions.shape != clips.shape[:1]:
            raise ValueError(f"conditions must have shape ({clips.shape[0]},), got {tuple(conditions.shape)}")
    gen = torch.Generator().manual_seed(seed)
    offsets = torch.arange(context_len + 1)

    def next_batch() -> tuple[torch.Tensor, ...]:
        rows = torch.randint(clips.shape[0], (batch_size,), generator=gen)
        starts = torch.randint(clips.shape[1] - context_len, (batch_size,), generator=gen)
        windows = clips[rows[:, None], starts[:, None] + offsets]  # (B, T + 1)
        batch = (windows[:, :-1], windows[:, 1:])
        return batch if conditions is None else (*batch, conditions[rows])

    return next_batch


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Change the sample rate by band-limited (Fourier) interpolation: frequencies above the
    new Nyquist limit are removed rather than aliased.

    Args:
        samples: (T,) float samples.
        from_rate, to_rate: sample rates in Hz.
    Returns:
        (round(T * to_rate / from_rate),) float32 samples.
    """
    check_int("from_rate", from_rate, 1)
    check_int("to_rate", to_rate, 1)
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim != 1:
        raise ValueError(f"samples must be 1-D, got shape {samples.shape}")
    if from_rate == to_rate:
        return samples.astype(np.float32)
    n_out = max(1, round(len(samples) * to_rate / from_rate))
    spectrum = np.fft.rfft(samples)
    keep = min(len(spectrum), n_out // 2 + 1)
    out = np.fft.irfft(spectrum[:keep], n=n_out) * (n_out / len(samples))
    return out.astype(np.float32)


def load_wav(path: str | Path, sample_rate: int | None = None) -> tuple[np.ndarray, int]:
    """Read a PCM WAV file (8, 16, 24 or 32-bit integer samples) with the standard library.

    Stereo and multi-channel files are mixed down to mono.

    Args:
        path: the .wav file.
        sample_rate: resample to this rate (e.g. 8000) if given; else keep the file's.
    Returns:
        (samples (T,) float32 in [-1, 1], sample rate in Hz).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no WAV file at {path}")
    try:
        with wave.open(str(path), "rb") as f:
            width, channels, rate, n = f.getsampwidth(), f.getnchannels(), f.getframerate(), f.getnframes()
            raw = f.readframes(n)
    except (wave.Error, EOFError) as err:
        raise ValueError(f"{path} is not a PCM WAV file that the wave module can read ({err})") from None
    if width not in (1, 2, 3, 4):
        raise ValueError(f"{path}: unsupported sample width of {width} bytes (need 1 to 4)")
    if width == 3:  # 24-bit: widen each little-endian sample to 32 bits
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
        ints = (b[:, 0].astype(np.int32) << 8 | b[:, 1].astype(np.int32) << 16 | b[:, 2].astype(np.int32) << 24)
        data, full_scale = ints.astype(np.float64), 2.0**31
    elif width == 1:  # 8-bit WAV is unsigned
        data, full_scale = np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128, 128.0
    else:
        data = np.frombuffer(raw, dtype={2: "<i2", 4: "<i4"}[width]).astype(np.float64)
        full_scale = 2.0 ** (8 * width - 1)
    samples = (data / full_scale).reshape(-1, channels).mean(axis=1)
    if len(samples) == 0:
        raise ValueError(f"{path} holds no samples")
    if sample_rate is not None and sample_rate != rate:
        return np.clip(resample(samples, rate, sample_rate), -1, 1), sample_rate
    return samples.astype(np.float32), rate


def save_wav(path: str | Path, samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write mono samples in [-1, 1] as a 16-bit PCM WAV file.

    Returns:
        the path written.
    """
    check_int("sample_rate", sample_rate, 1)
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim != 1 or len(samples) == 0:
        raise ValueError(f"samples must be a non-empty 1-D array, got shape {samples.shape}")
    if not np.all(np.isfinite(samples)) or np.abs(samples).max() > 1:
        raise ValueError("samples must be finite and lie in [-1, 1]")
    path = Path(path)
    ints = np.clip(np.round(samples * 32768), -32768, 32767).astype("<i2")  # the scale `load_wav` divides by
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(sample_rate)
        f.writeframes(ints.tobytes())
    return path


# µ-law --------------------------------------------------------------------------------
#
# µ-law companding and quantisation: audio samples in [-1, 1] <-> 256 integer levels.
#
# A WaveNet predicts each audio sample with a softmax over a few hundred classes, so the
# signal must be discrete. Quantising the raw amplitude uniformly to 8 bits wastes levels
# on loud values and drowns quiet sounds in noise; µ-law (ITU-T G.711) first compresses
#     f(x) = sign(x) ln(1 + µ|x|) / ln(1 + µ),    µ = 255,
# which spends the levels roughly logarithmically, so the error is a near-constant fraction
# of the amplitude. The inverse is f^-1(y) = sign(y) ((1 + µ)^|y| - 1) / µ.
#
# Conventions (the same as torchaudio's `mu_law_encoding`): `levels` classes 0..levels-1,
# µ = levels - 1, level q sits at y = 2 q / µ - 1, and y is rounded half up to a level.
# Each function takes a torch tensor or anything NumPy can read and returns the same kind.


def _as_tensor(name: str, x: Any) -> tuple[torch.Tensor, bool]:
    """x as a tensor, and whether the caller gave a tensor (so the answer is one too)."""
    if isinstance(x, torch.Tensor):
        return x, True
    try:
        return torch.as_tensor(np.asarray(x)), False
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(f"{name} must be a torch tensor or array-like, got {type(x).__name__}") from err


def _like(y: torch.Tensor, was_tensor: bool):
    return y if was_tensor else y.numpy()


def _check_signal(name: str, x: torch.Tensor) -> torch.Tensor:
    if not x.is_floating_point():
        raise TypeError(f"{name} must hold floating-point samples in [-1, 1], got dtype {x.dtype}")
    if x.numel() and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} has NaN or infinite samples")
    if x.numel() and float(x.abs().max()) > 1:
        raise ValueError(f"{name} must lie in [-1, 1] (normalise the signal first), "
                         f"got max |{name}| = {float(x.abs().max()):.4g}")
    return x


def mu_law_compress(x: Any, mu: float = 255.0):
    """f(x) = sign(x) ln(1 + µ|x|) / ln(1 + µ): [-1, 1] -> [-1, 1], steep near 0.

    Args:
        x: samples in [-1, 1], any shape.
        mu: the compression parameter µ > 0 (255 for 8-bit telephony).
    Returns:
        the companded samples, same shape and kind (tensor or array) as x.
    """
    check_number("mu", mu, 0, low_open=True)
    t, was_tensor = _as_tensor("x", x)
    t = _check_signal("x", t)
    y = torch.sign(t) * torch.log1p(mu * t.abs()) / np.log1p(mu)
    return _like(y, was_tensor)


def mu_law_expand(y: Any, mu: float = 255.0):
    """The inverse of `mu_law_compress`: f^-1(y) = sign(y) ((1 + µ)^|y| - 1) / µ.

    Args:
        y: companded values in [-1, 1], any shape.
    Returns:
        the samples x with f(x) = y, same shape and kind as y.
    """
    check_number("mu", mu, 0, low_open=True)
    t, was_tensor = _as_tensor("y", y)
    t = _check_signal("y", t)
    x = torch.sign(t) * torch.expm1(t.abs() * np.log1p(mu)) / mu
    return _like(x, was_tensor)


def quantize_signal(y: Any, levels: int = 256):
    """Uniform quantisation of [-1, 1] to integer levels 0..levels-1 (rounding half up).

    Used on raw samples this is linear PCM; used on `mu_law_compress(x)` it is µ-law.

    Args:
        y: values in [-1, 1], any shape.
        levels: how many levels (256 = 8 bits).
    Returns:
        int64 level ids, same shape and kind as y.
    """
    check_int("levels", levels, 2)
    t, was_tensor = _as_tensor("y", y)
    t = _check_signal("y", t)
    q = torch.floor((t + 1) / 2 * (levels - 1) + 0.5).long().clamp(0, levels - 1)
    return _like(q, was_tensor)


def dequantize_signal(q: Any, levels: int = 256):
    """The inverse of `quantize_signal`: level q -> 2 q / (levels - 1) - 1 in [-1, 1].

    Args:
        q: integer level ids in [0, levels), any shape.
    Returns:
        float32 values, same shape and kind as q.
    """
    check_int("levels", levels, 2)
    t, was_tensor = _as_tensor("q", q)
    if t.is_floating_point() or t.dtype == torch.bool:
        raise TypeError(f"q must hold integer level ids, got dtype {t.dtype}")
    if t.numel() and (int(t.min()) < 0 or int(t.max()) >= levels):
        raise ValueError(f"q must lie in [0, {levels}), got values from {int(t.min())} to {int(t.max())}")
    return _like(t.float() * (2 / (levels - 1)) - 1, was_tensor)


def mu_law_encode(x: Any, levels: int = 256):
    """Samples in [-1, 1] -> µ-law level ids 0..levels-1, with µ = levels - 1.

    Args:
        x: float samples in [-1, 1], any shape.
        levels: number of classes (256: the 8-bit µ-law of telephony and WaveNet).
    Returns:
        int64 level ids, same shape and kind as x.
    """
    check_int("levels", levels, 2)
    return quantize_signal(mu_law_compress(x, mu=levels - 1), levels)


def mu_law_decode(q: Any, levels: int = 256):
    """µ-law level ids -> samples in [-1, 1].

    The round trip is accurate relative to the amplitude: with µ = levels - 1,
    |mu_law_decode(mu_law_encode(x)) - x| <= (1/µ + |x|) ((1 + µ)^(1/µ) - 1), i.e. about
    2.2 % of |x| plus 9e-5 for 256 levels (half a level in the companded domain).

    Args:
        q: integer level ids in [0, levels), any shape.
    Returns:
        float samples, same shape and kind as q.
    """
    check_int("levels", levels, 2)
    return mu_law_expand(dequantize_signal(q, levels), mu=levels - 1)
