"""Checks for exercise 03: an LSTM cell, an LSTM with a projection, the teacher-forced loss,
a batched sampler, the gradient of an RNN LM by hand, and a training loop of one's own.

Expected values come from torch's own LSTM modules, from autograd and from the library
(`nll`, `pad_sequences`, `generate`); samples are tested against the model's exact
distribution over every possible sequence (χ²). Models passed to the student are arcourse
CharRNNs.
"""
import itertools

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arcourse import IGNORE_INDEX, nll
from arcourse.data import CharTokenizer, load_names, pad_sequences, split_dataset
from arcourse.decoding import generate
from arcourse.grading.api import check_close, points, question
from arcourse.metrics import chi_square_test
from arcourse.models import CharRNN, CharRNNConfig

# the same examples every run; `student` is a stateless handle, safe to share across examples
FEW = settings(max_examples=10, deadline=None, derandomize=True,
               suppress_health_check=[HealthCheck.function_scoped_fixture])


def lstm_weights(cell):
    return [p.detach().clone() for p in (cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)]


@question("lstm_cell_step", "one LSTM step equals torch.nn.LSTMCell with the same weights", tier="warm-up",
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


def lstmp_weights(lstm):
    return [getattr(lstm, f"{name}_l0").detach().clone()
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")]


def lstmp_result(student, xs, weights):
    result = student.lstmp_layer(xs, *weights)
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise AssertionError(f"lstmp_layer should return (outputs, c_T), got {type(result).__name__}")
    return result


@question("lstmp_layer", "an LSTM with a projection over a sequence equals torch.nn.LSTM(proj_size=P)", tier="core",
          write=("torch.nn.LSTM", "torch.nn.LSTMCell", "torch.lstm", "torch.lstm_cell"))
class TestLSTMPLayer:
    @points(2)
    @FEW
    @given(B=st.integers(1, 3), T=st.integers(1, 7), D=st.integers(1, 4), H=st.integers(2, 6),
           seed=st.integers(0, 10_000))
    def test_outputs_match_torch(self, student, B, T, D, H, seed):
        torch.manual_seed(seed)
        P = 1 + seed % (H - 1)                                     # 1 <= P < H
        lstm = torch.nn.LSTM(D, H, proj_size=P, batch_first=True)
        xs = torch.randn(B, T, D)
        with torch.no_grad():
            want, _ = lstm(xs)
        got, _ = lstmp_result(student, xs, lstmp_weights(lstm))
        check_close(got, want, f"outputs of lstmp_layer (H={H}, P={P})", atol=1e-5, xs=xs)

    @points(1)
    def test_last_cell_state(self, student):
        torch.manual_seed(7)
        lstm = torch.nn.LSTM(3, 5, proj_size=2, batch_first=True)
        xs = torch.randn(2, 6, 3)
        with torch.no_grad():
            _, (_, want_c) = lstm(xs)
        _, got_c = lstmp_result(student, xs, lstmp_weights(lstm))
        check_close(got_c, want_c[0], "c_T of lstmp_layer (H=5, P=2)", atol=1e-5, xs=xs)


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


@question("teacher_forced_loss", "shifted targets, padding masked, mean over real targets", tier="core",
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


def constant_model(bias):
    """A CharRNN whose logits are `bias` at every step, whatever it reads."""
    model = CharRNN(CharRNNConfig.tiny(vocab_size=len(bias), cell="gru")).eval()
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.copy_(torch.tensor(bias))
    return model


def sharp_model(seed, V=6, cell="lstm", scale=6.0):
    torch.manual_seed(seed)
    model = CharRNN(CharRNNConfig.tiny(vocab_size=V, cell=cell)).eval()
    with torch.no_grad():
        model.head.weight.mul_(scale)
        model.head.bias[0] -= 1.0
    return model


def draw(student, model, n, max_len, temperature, seed):
    out = student.sample_tokens_rnn(model, n, max_len, temperature, seed)
    out = [[int(t) for t in row] for row in out]
    if len(out) != n:
        raise AssertionError(f"sample_tokens_rnn(model, n_samples={n}, ...) returned {len(out)} sequences")
    return out


def exact_sequence_probs(model, V, max_len, temperature):
    """{sequence: probability} of every outcome of the sampler: token lists that end with 0, or
    reach max_len, with 0 nowhere before the end; each conditional at `temperature`."""
    out = {}
    with torch.no_grad():
        for n in range(1, max_len + 1):
            for body in itertools.product(range(1, V), repeat=n - 1):
                prefix = torch.tensor([[0, *body]])
                logp = (model(prefix)[0] / temperature).double().log_softmax(-1)       # (n, V)
                seen = sum(float(logp[t, w]) for t, w in enumerate(body))
                for last in ([0] if n < max_len else range(V)):
                    out[(*body, last)] = torch.tensor(seen + float(logp[n - 1, last])).exp().item()
    return out


@question("sample_tokens_rnn", "ancestral sampling of a batch: end token, seed, temperature, the model's exact "
          "distribution", tier="core", write=("arcourse.decoding.generate", "arcourse.decoding.sample_tokens"))
class TestSampler:
    @points(1)
    def test_stops_at_the_end_token(self, student):
        """a constant model with p(end) = 0.53 per step: rows stop right after it, as often as it says."""
        model = constant_model([1.5, 0.0, 0.0, 0.0, 0.0])
        p_end = float(torch.softmax(torch.tensor([1.5, 0.0, 0.0, 0.0, 0.0]), 0)[0])
        out = draw(student, model, 400, 12, 1.0, 0)
        for row in out:
            assert 1 <= len(row) <= 12, f"sample_tokens_rnn(max_len=12) returned a row of {len(row)} tokens: {row}"
            assert 0 not in row[:-1], f"a sample goes on after the end token 0: {row}"
            assert row[-1] == 0 or len(row) == 12, f"a sample stopped before max_len without the end token: {row}"
        lengths = {len(row) for row in out}
        assert len(lengths) > 3, f"with p(end) = {p_end:.2f} per step, lengths should vary; got only {sorted(lengths)}"
        at_once = sum(len(row) == 1 for row in out) / len(out)
        assert abs(at_once - p_end) < 0.1, (f"the model ends at once with probability {p_end:.2f}, but {at_once:.2f} "
                                            "of your samples did")

    @points(1)
    def test_deterministic_under_a_seed(self, student):
        model = sharp_model(1)
        runs = [draw(student, model, 4, 15, 1.2, seed) for seed in (3, 3, 4)]
        assert runs[0] == runs[1], f"the same seed gave {runs[0]} and then {runs[1]}"
        assert runs[1] != runs[2], f"seeds 3 and 4 gave the same samples {runs[1]}"
        assert len({tuple(r) for r in runs[0]}) > 1, f"the rows of one call are all the same: {runs[0]}"

    @points(1)
    def test_low_temperature_is_greedy(self, student):
        for seed in range(3):
            model = sharp_model(seed)
            want = generate(model, [0], 10, greedy=True, eos_id=0)[1:].tolist()
            want = want[: want.index(0) + 1] if 0 in want else want
            for got in draw(student, model, 2, 10, 1e-3, 0):
                assert got == want, f"at temperature 1e-3 the sample should follow the argmax: expected {want}, got {got}"

    @points(2)
    def test_samples_follow_the_models_distribution(self, student):
        """4,000 sequences of at most 3 tokens over V = 3 (15 outcomes) from two different
        models at two temperatures: χ² against the exact probabilities, p > 0.001."""
        for seed, cell, tau in [(11, "lstm", 1.0), (12, "gru", 0.6)]:
            model = sharp_model(seed, V=3, cell=cell, scale=3.0)
            exact = exact_sequence_probs(model, 3, 3, tau)
            out = draw(student, model, 4000, 3, tau, seed)
            unknown = [row for row in out if tuple(row) not in exact]
            assert not unknown, f"sample_tokens_rnn returned impossible sequences, e.g. {unknown[:3]}"
            counts = {s: 0 for s in exact}
            for row in out:
                counts[tuple(row)] += 1
            stat, p_value = chi_square_test(list(counts.values()), list(exact.values()))
            worst = max(exact, key=lambda s: abs(counts[s] / 4000 - exact[s]))
            assert p_value > 1e-3, (
                f"{cell} model at temperature {tau}: the samples do not follow the model (χ² = {stat:.1f}, "
                f"p = {p_value:.1e}); e.g. {list(worst)} has probability {exact[worst]:.3f} but came "
                f"{counts[worst] / 4000:.3f} of the time")


def rnn_params(seed, H, V):
    gen = torch.Generator().manual_seed(seed)
    shapes = {"W_xh": (H, V), "W_hh": (H, H), "b_h": (H,), "W_hy": (V, H), "b_y": (V,)}
    return {name: torch.randn(*shape, generator=gen, dtype=torch.float64) * (0.6 if name == "W_hh" else 1.0)
            for name, shape in shapes.items()}


def autograd_reference(tokens, params):
    leaves = {k: p.clone().requires_grad_(True) for k, p in params.items()}
    B, T = tokens.shape[0], tokens.shape[1] - 1
    h = torch.zeros(B, params["W_hh"].shape[0], dtype=torch.float64)
    loss = 0
    for t in range(T):
        h = torch.tanh(leaves["W_xh"][:, tokens[:, t]].T + h @ leaves["W_hh"].T + leaves["b_h"])
        loss = loss + nll(h @ leaves["W_hy"].T + leaves["b_y"], tokens[:, t + 1]) / T
    grads = torch.autograd.grad(loss, list(leaves.values()))
    return {"loss": loss.detach(), **dict(zip(leaves, grads))}


def check_gradients(student, tokens, params, what):
    got = student.rnn_lm_gradients(tokens, *params.values())
    want = autograd_reference(tokens, params)
    missing = [k for k in want if k not in got]
    assert not missing, f"rnn_lm_gradients should return a dict with {list(want)}; missing {missing}"
    for name in want:
        check_close(got[name], want[name], f"{name!r} of rnn_lm_gradients ({what})", atol=1e-8, tokens=tokens)


@question("rnn_lm_gradients", "backpropagation through time by hand equals autograd", tier="stretch",
          write=("torch.Tensor.backward", "torch.autograd.backward", "torch.autograd.grad"))
class TestRNNGradients:
    @points(1)
    def test_one_step(self, student):
        """T = 1: no recurrence yet, only the softmax and the tanh."""
        gen = torch.Generator().manual_seed(1)
        check_gradients(student, torch.randint(4, (3, 2), generator=gen), rnn_params(1, 3, 4), "T = 1")

    @points(2)
    @FEW
    @given(B=st.integers(1, 3), T=st.integers(2, 8), H=st.integers(1, 5), V=st.integers(2, 6),
           seed=st.integers(0, 10_000))
    def test_random_sequences(self, student, B, T, H, V, seed):
        gen = torch.Generator().manual_seed(seed)
        tokens = torch.randint(V, (B, T + 1), generator=gen)
        check_gradients(student, tokens, rnn_params(seed, H, V), f"B={B}, T={T}, H={H}, V={V}")


def names_data():
    """The lecture's split of the census first names as teacher-forcing pairs, and the
    held-out NLL of the add-one count bigram fitted on the training names."""
    names = load_names()
    train_names, _, test_names = split_dataset(names, (0.8, 0.1, 0.1), seed=0)
    tok = CharTokenizer.from_texts(names)
    pairs = [pad_sequences([tok.encode(n, add_boundary=True) for n in part], tok.boundary_id)
             for part in (train_names, test_names)]
    (x, y), (x_test, y_test) = pairs
    real, real_test = y != IGNORE_INDEX, y_test != IGNORE_INDEX
    counts = torch.ones(tok.vocab_size, tok.vocab_size)
    counts.index_put_((x[real], y[real]), torch.ones(int(real.sum())), accumulate=True)
    bigram = counts / counts.sum(dim=1, keepdim=True)
    bigram_nll = -bigram[x_test[real_test], y_test[real_test]].log().mean().item()
    return tok.vocab_size, (x, y), (x_test, y_test), bigram_nll


@question("train_char_model", "your training loop beats the count bigram on held-out names by 0.15 nats",
          tier="stretch", experiment=True, seconds=120, write=("arcourse.training.train",))
class TestTrainingLoop:
    @points(3)
    def test_beats_the_bigram(self, student):
        V, (x, y), (x_test, y_test), bigram_nll = names_data()
        torch.manual_seed(0)
        model = CharRNN(CharRNNConfig.small(vocab_size=V, cell="lstm"))
        weights = student.train_char_model(model, x, y, 150, 0)
        trained = CharRNN(CharRNNConfig.small(vocab_size=V, cell="lstm"))
        try:
            trained.load_state_dict(weights)
        except (RuntimeError, TypeError, AttributeError) as error:
            raise AssertionError(f"train_char_model should return model.state_dict(); loading it failed: "
                                 f"{error}") from None
        with torch.no_grad():
            got = nll(trained.eval()(x_test), y_test).item()
        assert got < bigram_nll - 0.15, (
            f"after 150 steps your model's held-out NLL is {got:.3f} nats per character; the count bigram's is "
            f"{bigram_nll:.3f}, and the model must beat it by 0.15")
