"""Hidden checks for exercise 03: other sizes and seeds than the public checks, float64,
a batch of one, lengths that fill the whole row, a certain end token and a long sequence
for the hand-written gradient."""
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


@question("lstmp_layer")
class TestLSTMPLayerHidden:
    @points(1)
    def test_long_sequence_in_float64(self, student):
        torch.manual_seed(32)
        lstm = torch.nn.LSTM(3, 6, proj_size=4, batch_first=True).double()
        xs = torch.randn(2, 25, 3, dtype=torch.float64)
        with torch.no_grad():
            want, (_, want_c) = lstm(xs)
        weights = [getattr(lstm, f"{n}_l0").detach().clone()
                   for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")]
        got, got_c = student.lstmp_layer(xs, *weights)
        check_close(got, want, "lstmp_layer over 25 steps (H=6, P=4)", atol=1e-10)
        check_close(got_c, want_c[0], "c_T of lstmp_layer over 25 steps", atol=1e-10)


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
        out = [[int(t) for t in row] for row in student.sample_tokens_rnn(model, 3, 9, 1.0, 0)]
        assert out == [[0]] * 3, f"when the end token is certain every sample is [0], got {out}"


@question("rnn_lm_gradients")
class TestRNNGradientsHidden:
    @points(1)
    def test_long_sequence(self, student):
        gen = torch.Generator().manual_seed(34)
        H, V, T = 6, 5, 30
        params = {"W_xh": torch.randn(H, V, generator=gen, dtype=torch.float64),
                  "W_hh": torch.randn(H, H, generator=gen, dtype=torch.float64) * 0.4,
                  "b_h": torch.randn(H, generator=gen, dtype=torch.float64),
                  "W_hy": torch.randn(V, H, generator=gen, dtype=torch.float64),
                  "b_y": torch.randn(V, generator=gen, dtype=torch.float64)}
        tokens = torch.randint(V, (2, T + 1), generator=gen)
        leaves = {k: p.clone().requires_grad_(True) for k, p in params.items()}
        h, loss = torch.zeros(2, H, dtype=torch.float64), 0
        for t in range(T):
            h = torch.tanh(leaves["W_xh"][:, tokens[:, t]].T + h @ leaves["W_hh"].T + leaves["b_h"])
            loss = loss + nll(h @ leaves["W_hy"].T + leaves["b_y"], tokens[:, t + 1]) / T
        grads = dict(zip(leaves, torch.autograd.grad(loss, list(leaves.values()))))
        got = student.rnn_lm_gradients(tokens, *params.values())
        for name, want in grads.items():
            check_close(got[name], want, f"{name!r} of rnn_lm_gradients over {T} steps", atol=1e-8)
