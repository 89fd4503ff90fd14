"""Hidden checks for exercise 03: other sizes and seeds than the public checks, float64,
a batch of one, and lengths that fill the whole row."""
import torch

from arcourse import nll
from arcourse.data import pad_sequences
from arcourse.grading.api import check_close, points, question
from arcourse.models import CharRNN, CharRNNConfig


@question("lstm_cell_step")
class TestLSTMCellHidden:
    @points(1)
    def test_wide_cell_in_float64(self, student):
        torch.manual_seed(31)
        cell = torch.nn.LSTMCell(9, 11).double()
        x, h, c = (torch.randn(5, n, dtype=torch.float64) for n in (9, 11, 11))
        with torch.no_grad():
            want_h, want_c = cell(x, (h, c))
        weights = [p.detach().clone() for p in (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)]
        got_h, got_c = student.lstm_cell_step(x, h, c, *weights)
        check_close(got_h, want_h, "h_new of lstm_cell_step (float64, H=11)", atol=1e-10)
        check_close(got_c, want_c, "c_new of lstm_cell_step (float64, H=11)", atol=1e-10)


@question("lstm_layer")
class TestLSTMLayerHidden:
    @points(1)
    def test_long_sequence(self, student):
        torch.manual_seed(32)
        lstm = torch.nn.LSTM(3, 4, batch_first=True)
        xs = torch.randn(2, 25, 3)
        with torch.no_grad():
            want, _ = lstm(xs)
        weights = [p.detach().clone() for p in (lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0)]
        check_close(student.lstm_layer(xs, *weights), want, "lstm_layer over 25 steps", atol=1e-5)


@question("teacher_forced_loss")
class TestTeacherForcedLossHidden:
    @points(1)
    def test_no_padding_and_a_batch_of_one(self, student):
        torch.manual_seed(33)
        model = CharRNN(CharRNNConfig.tiny(vocab_size=7, cell="lstm")).eval()
        seqs = [[0, 3, 5, 1, 0]]
        inputs, targets = pad_sequences(seqs, pad_id=0)
        with torch.no_grad():
            want = nll(model(inputs), targets)
        got = student.teacher_forced_loss(model, torch.tensor(seqs), torch.tensor([5]))
        check_close(got, want, "teacher_forced_loss on one unpadded sequence", atol=1e-5)


@question("sample_tokens_rnn")
class TestSamplerHidden:
    @points(1)
    def test_certain_end_token_stops_at_once(self, student):
        model = CharRNN(CharRNNConfig.tiny(vocab_size=4, cell="gru")).eval()
        with torch.no_grad():
            model.head.weight.zero_()
            model.head.bias.copy_(torch.tensor([50.0, 0.0, 0.0, 0.0]))
        out = [int(t) for t in student.sample_tokens_rnn(model, 9, 1.0, 0)]
        assert out == [0], f"when the end token is certain the sample is [0], got {out}"
