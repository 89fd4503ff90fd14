"""Checks for exercise 03: LSTM cell and layer, teacher-forced loss, sampling loop.

Expected values come from torch's own LSTM modules and from the library (`nll`,
`pad_sequences`, `generate`); models passed to the student are arcourse CharRNNs.
"""
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arcourse import nll
from arcourse.data import pad_sequences
from arcourse.decoding import generate
from arcourse.grading.api import check_close, points, question
from arcourse.models import CharRNN, CharRNNConfig

# the same examples every run; `student` is a stateless handle, safe to share across examples
FEW = settings(max_examples=15, deadline=None, derandomize=True,
               suppress_health_check=[HealthCheck.function_scoped_fixture])


def lstm_weights(cell):
    return [p.detach().clone() for p in (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)]


@question("lstm_cell_step", "one LSTM step equals torch.nn.LSTMCell with the same weights",
          write=("torch.nn.LSTMCell", "torch.nn.LSTM", "torch.lstm_cell"))
class TestLSTMCell:
    @points(2)
    @FEW
    @given(B=st.integers(1, 4), D=st.integers(1, 5), H=st.integers(1, 6), seed=st.integers(0, 10_000))
    def test_matches_torch_lstmcell(self, student, B, D, H, seed):
        torch.manual_seed(seed)
        cell = torch.nn.LSTMCell(D, H)
        x, h, c = torch.randn(B, D), torch.randn(B, H), torch.randn(B, H)
        with torch.no_grad():
            want_h, want_c = cell(x, (h, c))
        got_h, got_c = student.lstm_cell_step(x, h, c, *lstm_weights(cell))
        check_close(got_h, want_h, "h_new of lstm_cell_step", atol=1e-5, x=x, h=h, c=c)
        check_close(got_c, want_c, "c_new of lstm_cell_step", atol=1e-5, x=x, h=h, c=c)

    @points(1)
    def test_gate_order_by_hand(self, student):
        """Zero weights, one bias per gate: c_new = s(f) c + s(i) tanh(g), h_new = s(o) tanh(c_new)."""
        H = 2
        i, f, g, o = 0.5, 2.0, -1.0, -0.5
        b_ih = torch.tensor([i] * H + [f] * H + [g] * H + [o] * H)
        x, h, c = torch.ones(1, 3), torch.ones(1, H), torch.tensor([[1.0, -2.0]])
        zeros_ih, zeros_hh = torch.zeros(4 * H, 3), torch.zeros(4 * H, H)
        s = torch.sigmoid
        want_c = s(torch.tensor(f)) * c + s(torch.tensor(i)) * torch.tanh(torch.tensor(g))
        want_h = s(torch.tensor(o)) * torch.tanh(want_c)
        got_h, got_c = student.lstm_cell_step(x, h, c, zeros_ih, zeros_hh, b_ih, torch.zeros(4 * H))
        check_close(got_c, want_c, "c_new (gates are stacked i, f, g, o)", b_ih=b_ih, c=c)
        check_close(got_h, want_h, "h_new (gates are stacked i, f, g, o)", b_ih=b_ih, c=c)


@question("lstm_layer", "an LSTM over a sequence equals torch.nn.LSTM(batch_first=True)",
          write=("torch.nn.LSTM", "torch.nn.LSTMCell", "torch.lstm", "torch.lstm_cell"))
class TestLSTMLayer:
    @points(2)
    @FEW
    @given(B=st.integers(1, 3), T=st.integers(1, 7), D=st.integers(1, 4), H=st.integers(1, 5),
           seed=st.integers(0, 10_000))
    def test_matches_torch_lstm(self, student, B, T, D, H, seed):
        torch.manual_seed(seed)
        lstm = torch.nn.LSTM(D, H, batch_first=True)
        xs = torch.randn(B, T, D)
        with torch.no_grad():
            want, _ = lstm(xs)
        weights = [p.detach().clone() for p in (lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0)]
        got = student.lstm_layer(xs, *weights)
        check_close(got, want, "lstm_layer(xs, ...)", atol=1e-5, xs=xs)


def random_batch(seed: int, B: int, V: int):
    """Boundary-wrapped random sequences of random lengths, padded with random tokens."""
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(2, 9, (B,), generator=gen)
    L = int(lengths.max())
    tokens = torch.randint(1, V, (B, L), generator=gen)
    seqs = []
    for b, n in enumerate(lengths.tolist()):
        tokens[b, 0] = tokens[b, n - 1] = 0
        seqs.append(tokens[b, :n].tolist())
    return tokens, lengths, seqs


def reference_loss(model, seqs):
    inputs, targets = pad_sequences(seqs, pad_id=0)
    with torch.no_grad():
        return nll(model(inputs), targets)


@question("teacher_forced_loss", "shifted targets, padding masked, mean over real targets",
          write=("arcourse.data.pad_sequences",))
class TestTeacherForcedLoss:
    @points(2)
    @FEW
    @given(B=st.integers(1, 6), V=st.integers(3, 9), seed=st.integers(0, 10_000),
           cell=st.sampled_from(["rnn", "lstm", "gru"]))
    def test_equals_reference_on_random_padded_batches(self, student, B, V, seed, cell):
        torch.manual_seed(seed)
        model = CharRNN(CharRNNConfig.tiny(vocab_size=V, cell=cell)).eval()
        tokens, lengths, seqs = random_batch(seed, B, V)
        got = student.teacher_forced_loss(model, tokens.clone(), lengths.clone())
        check_close(got, reference_loss(model, seqs), "teacher_forced_loss(model, tokens, lengths)",
                    atol=1e-5, tokens=tokens, lengths=lengths)

    @points(1)
    def test_padding_does_not_count(self, student):
        torch.manual_seed(0)
        model = CharRNN(CharRNNConfig.tiny(vocab_size=6, cell="gru")).eval()
        tokens, lengths, seqs = random_batch(5, 5, 6)
        assert int((tokens.shape[1] - lengths).sum()) >= 4, "the check's batch should hold padding"
        other = tokens.clone()
        for b, n in enumerate(lengths.tolist()):
            other[b, n:] = (other[b, n:] + 2) % 6  # change every padding token
        got = [student.teacher_forced_loss(model, t, lengths.clone()) for t in (tokens.clone(), other)]
        want = reference_loss(model, seqs)
        check_close(got[0], want, "teacher_forced_loss", atol=1e-5, tokens=tokens, lengths=lengths)
        check_close(got[1], want, "teacher_forced_loss with different padding tokens", atol=1e-5,
                    tokens=other, lengths=lengths)


def constant_model(bias, V=5):
    """A CharRNN whose logits are `bias` at every step, whatever it reads."""
    model = CharRNN(CharRNNConfig.tiny(vocab_size=V, cell="gru")).eval()
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.copy_(torch.tensor(bias))
    return model


def sharp_model(seed, V=6):
    torch.manual_seed(seed)
    model = CharRNN(CharRNNConfig.tiny(vocab_size=V, cell="lstm")).eval()
    with torch.no_grad():
        model.head.weight.mul_(6.0)
        model.head.bias[0] -= 1.0
    return model


@question("sample_tokens_rnn", "ancestral sampling: temperature, end token, seed",
          write=("arcourse.decoding.generate", "arcourse.decoding.sample_tokens"))
class TestSampler:
    @points(1)
    def test_stops_at_the_end_token(self, student):
        model = constant_model([0.5, 0.0, 0.0, 0.0, 0.0])  # p(end) = 0.29 at every step
        lengths = set()
        for seed in range(20):
            out = [int(t) for t in student.sample_tokens_rnn(model, 12, 1.0, seed)]
            assert 1 <= len(out) <= 12, f"sample_tokens_rnn(max_len=12) returned {len(out)} tokens: {out}"
            assert 0 not in out[:-1], f"the sample goes on after the end token 0: {out}"
            assert out[-1] == 0 or len(out) == 12, f"the sample stopped before max_len without the end token: {out}"
            lengths.add(len(out))
        assert len(lengths) > 2, f"with p(end) = 0.29 per step, lengths should vary; got only {sorted(lengths)}"

    @points(1)
    def test_deterministic_under_a_seed(self, student):
        model = sharp_model(1)
        runs = [[int(t) for t in student.sample_tokens_rnn(model, 15, 1.2, seed)] for seed in (3, 3, 4, 5, 6)]
        assert runs[0] == runs[1], f"the same seed gave {runs[0]} and then {runs[1]}"
        assert len({tuple(r) for r in runs[1:]}) > 1, f"different seeds all gave {runs[1]}"

    @points(1)
    def test_low_temperature_is_greedy(self, student):
        for seed in range(3):
            model = sharp_model(seed)
            want = generate(model, [0], 10, greedy=True, eos_id=0)[1:].tolist()
            want = want[: want.index(0) + 1] if 0 in want else want
            got = [int(t) for t in student.sample_tokens_rnn(model, 10, 1e-3, 0)]
            assert got == want, f"at temperature 1e-3 the sample should follow the argmax: expected {want}, got {got}"

    @points(1)
    def test_temperature_scales_the_distribution(self, student):
        """First-token frequencies over 400 seeds match softmax(logits / tau) (total variation < 0.1)."""
        logits = torch.tensor([0.0, 2.0, 1.0, 0.0, -1.0])
        model = constant_model(logits.tolist())
        for tau in (0.5, 2.0):
            counts = torch.zeros(5)
            for seed in range(400):
                out = student.sample_tokens_rnn(model, 1, tau, seed)
                counts[int(out[0])] += 1
            want = torch.softmax(logits / tau, dim=0)
            tv = 0.5 * (counts / counts.sum() - want).abs().sum()
            assert tv < 0.1, (f"at temperature {tau} the first token should follow {want.numpy().round(3)}, "
                              f"observed frequencies {(counts / counts.sum()).numpy().round(3)}")
