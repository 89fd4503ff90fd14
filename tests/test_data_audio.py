"""Audio data: synthetic notes and melodies, training windows, WAV files, resampling."""
import wave

import numpy as np
import pytest
import torch

from arcourse.data import (
    INSTRUMENTS,
    audio_batches,
    load_wav,
    melody,
    midi_to_frequency,
    resample,
    save_wav,
    synthetic_music,
    tone,
)


def peak_frequency(samples: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / sample_rate)[spectrum.argmax()])


def test_midi_to_frequency():
    assert midi_to_frequency(69) == 440.0
    assert midi_to_frequency(81) == pytest.approx(880.0)
    assert midi_to_frequency(57) == pytest.approx(220.0)


def test_tone_pitch_length_and_peak():
    x = tone(440.0, 0.5, amplitude=0.3, decay=0.0)
    assert x.dtype == np.float32 and x.shape == (4000,)
    assert np.abs(x).max() == pytest.approx(0.3, rel=1e-6)
    assert peak_frequency(x, 8000) == pytest.approx(440.0, abs=2.0)
    assert abs(x[0]) < 1e-6 and abs(x[-1]) < 0.3 * 0.05  # faded in and out: no clicks


def test_chord_holds_every_pitch():
    x = tone([220.0, 330.0], 1.0, decay=0.0)
    spectrum = np.abs(np.fft.rfft(x))
    freqs = np.fft.rfftfreq(len(x), 1 / 8000)
    loud = set(np.round(freqs[spectrum > 0.3 * spectrum.max()]).astype(int))
    assert {220, 330} <= loud


def test_harmonics_above_nyquist_are_left_out():
    # the clarinet's 7th harmonic of 700 Hz would be 4.9 kHz, above 4 kHz: it must not alias to 3.1 kHz
    x = tone(700.0, 1.0, instrument="clarinet", decay=0.0)
    spectrum = np.abs(np.fft.rfft(x))
    freqs = np.fft.rfftfreq(len(x), 1 / 8000)
    assert spectrum[np.abs(freqs - 3100) < 20].max() < 1e-3 * spectrum.max()
    assert spectrum[np.abs(freqs - 3500) < 20].max() > 0.05 * spectrum.max()  # the 5th harmonic is there


def test_melody_concatenates_notes():
    x = melody([(440.0, 0.25), ([220.0, 330.0], 0.5)], amplitude=0.2)
    assert x.shape == (6000,)
    assert peak_frequency(x[:2000], 8000) == pytest.approx(440.0, abs=5.0)


def test_synthetic_music_is_seeded_and_bounded():
    clips, labels = synthetic_music(6, 0.5, seed=3)
    again, labels_again = synthetic_music(6, 0.5, seed=3)
    other, _ = synthetic_music(6, 0.5, seed=4)
    assert clips.shape == (6, 4000) and clips.dtype == np.float32
    assert labels.dtype == np.int64 and set(labels.tolist()) <= {0, 1}
    np.testing.assert_array_equal(clips, again)
    np.testing.assert_array_equal(labels, labels_again)
    assert not np.array_equal(clips, other)
    assert np.abs(clips).max() <= 1.0
    loudness = np.abs(clips).max(axis=1)
    assert loudness.min() < 0.5 * loudness.max()  # clips come at different loudness


def test_audio_batches_are_windows_of_one_clip():
    clips = torch.arange(3 * 50).reshape(3, 50)  # every value tells its clip and time
    batches = audio_batches(clips, 10, 8, conditions=torch.tensor([5, 6, 7]), seed=0)
    inputs, targets, conditions = batches()
    assert inputs.shape == targets.shape == (8, 10) and conditions.shape == (8,)
    assert torch.equal(targets[:, :-1], inputs[:, 1:])
    assert torch.equal(inputs // 50, (inputs[:, :1] // 50).expand(8, 10))  # no window spans two clips
    assert torch.equal(conditions, inputs[:, 0] // 50 + 5)
    assert torch.equal(audio_batches(clips, 10, 8, seed=0)()[0], inputs)  # seeded


def test_audio_batches_errors():
    with pytest.raises(ValueError, match="too short"):
        audio_batches(torch.zeros(2, 10, dtype=torch.long), 10, 4)
    with pytest.raises(ValueError, match=r"\(N, T\) integer"):
        audio_batches(torch.zeros(2, 10), 5, 4)
    with pytest.raises(ValueError, match="conditions"):
        audio_batches(torch.zeros(2, 10, dtype=torch.long), 5, 4, conditions=torch.zeros(3))
    with pytest.raises(ValueError, match="batch_size"):
        audio_batches(torch.zeros(2, 10, dtype=torch.long), 5, 0)


def test_wav_round_trip(tmp_path):
    x = tone(330.0, 0.3, amplitude=0.8, instrument="organ")
    path = save_wav(tmp_path / "note.wav", x, 8000)
    y, rate = load_wav(path)
    assert rate == 8000 and y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, x, atol=0.5 / 32768, rtol=0)  # 16 bits: half a step


def write_raw_wav(path, frames: bytes, width: int, channels: int, rate: int):
    with wave.open(str(path), "wb") as f:
        f.setnchannels(channels)
        f.setsampwidth(width)
        f.setframerate(rate)
        f.writeframes(frames)


def test_other_sample_widths_and_stereo(tmp_path):
    write_raw_wav(tmp_path / "u8.wav", bytes([0, 128, 255]), 1, 1, 8000)
    np.testing.assert_allclose(load_wav(tmp_path / "u8.wav")[0], [-1.0, 0.0, 127 / 128])
    # 24-bit little-endian: -2^23 (full scale down), 0, 2^22 (half scale up)
    write_raw_wav(tmp_path / "s24.wav", bytes([0, 0, 0x80, 0, 0, 0, 0, 0, 0x40]), 3, 1, 8000)
    np.testing.assert_allclose(load_wav(tmp_path / "s24.wav")[0], [-1.0, 0.0, 0.5])
    stereo = np.array([[16384, -16384], [8192, 8192]], dtype="<i2")  # left/right pairs
    write_raw_wav(tmp_path / "stereo.wav", stereo.tobytes(), 2, 2, 8000)
    np.testing.assert_allclose(load_wav(tmp_path / "stereo.wav")[0], [0.0, 0.25])  # mixed to mono


def test_load_and_resample(tmp_path):
    x = tone(440.0, 0.5, decay=0.0, sample_rate=16000)
    save_wav(tmp_path / "hi.wav", x, 16000)
    y, rate = load_wav(tmp_path / "hi.wav", sample_rate=8000)
    assert rate == 8000 and y.shape == (4000,)
    assert peak_frequency(y, 8000) == pytest.approx(440.0, abs=2.0)


def test_resample_removes_what_the_new_rate_cannot_hold():
    x = tone([440.0, 3000.0], 1.0, decay=0.0, sample_rate=8000)
    y = resample(x, 8000, 4000)  # 3 kHz is above the new Nyquist frequency of 2 kHz
    spectrum = np.abs(np.fft.rfft(y))
    freqs = np.fft.rfftfreq(len(y), 1 / 4000)
    assert spectrum[np.abs(freqs - 1000) < 30].max() < 1e-3 * spectrum.max()  # 3 kHz would alias to 1 kHz
    assert peak_frequency(y, 4000) == pytest.approx(440.0, abs=2.0)
    np.testing.assert_array_equal(resample(x, 8000, 8000), x)


def test_bad_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match="no WAV file"):
        load_wav(tmp_path / "missing.wav")
    (tmp_path / "notes.txt").write_text("not audio")
    with pytest.raises(ValueError, match="not a PCM WAV"):
        load_wav(tmp_path / "notes.txt")
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        save_wav(tmp_path / "loud.wav", np.array([0.5, 1.5]))
    with pytest.raises(ValueError, match="1-D"):
        save_wav(tmp_path / "empty.wav", np.zeros((2, 2)))
    with pytest.raises(ValueError, match="frequency"):
        tone(5000.0, 0.1)
    with pytest.raises(ValueError, match="instrument"):
        tone(440.0, 0.1, instrument="kazoo")
    with pytest.raises(ValueError, match="amplitude"):
        tone(440.0, 0.1, amplitude=1.5)
    with pytest.raises(ValueError, match="duration"):
        tone(440.0, 0.0)
    with pytest.raises(ValueError, match="instruments"):
        synthetic_music(2, instruments=("kazoo",))
    with pytest.raises(ValueError, match="n_clips"):
        synthetic_music(0)
    with pytest.raises(ValueError, match="notes"):
        melody([])
    assert set(INSTRUMENTS) >= {"sine", "clarinet"}
