"""ReceptiveFieldPanel (lecture 05): the gradient's support is (k - 1) * sum(dilations) + 1."""
import numpy as np
import pytest

from arcourse.widgets import ReceptiveFieldPanel

pytest.importorskip("ipywidgets")


def by_hand(layers, stacks, kernel):
    return (kernel - 1) * sum(2 ** i for i in range(layers)) * stacks + 1


def test_every_slider_moves_the_measured_field():
    panel = ReceptiveFieldPanel(layers=3)
    assert panel.measured_field == by_hand(3, 1, 2) == 8
    for control, value, expected in ((panel.layers, 5, by_hand(5, 1, 2)), (panel.stacks, 2, by_hand(5, 2, 2)),
                                     (panel.kernel_size, 3, by_hand(5, 2, 3))):
        chart = bytes(panel.chart.value)
        control.value = value
        assert panel.measured_field == expected
        nonzero = np.flatnonzero(panel.gradient)
        assert nonzero[-1] == panel.position  # depends on the output's own input ...
        assert not panel.gradient[panel.position + 1:].any()  # ... and on nothing after it
        assert f"receptive field (kernel − 1)·Σ dilations + 1 = {expected}" in panel.readout
        assert f"non-zero on {expected} inputs" in panel.readout
        assert bytes(panel.chart.value) != chart
    assert panel.config.dilations == (1, 2, 4, 8, 16) * 2


def test_audio_from_the_shipped_wavenet():
    panel = ReceptiveFieldPanel.from_checkpoint(seconds=0.05)
    assert panel.audio is None
    panel.generate_button.click()
    assert panel.audio.shape == (400,) and np.abs(panel.audio).max() <= 1 and panel.audio.std() > 0
    assert panel.player.value[:4] == b"RIFF"  # a WAV file
    first = panel.audio.copy()
    panel.instrument.value = 1
    panel.generate_audio()
    assert not np.array_equal(panel.audio, first)  # another instrument, another sound
    assert "400 samples" in panel.audio_box.value


def test_bad_arguments():
    with pytest.raises(ValueError, match="layers"):
        ReceptiveFieldPanel(layers=0)
    with pytest.raises(TypeError, match="stacks"):
        ReceptiveFieldPanel(stacks=1.5)
    with pytest.raises(ValueError, match="seconds"):
        ReceptiveFieldPanel(seconds=0)
    with pytest.raises(TypeError, match="WaveNet"):
        ReceptiveFieldPanel(audio_model=object())
    with pytest.raises(ValueError, match="without an audio_model"):
        ReceptiveFieldPanel().generate_audio()
