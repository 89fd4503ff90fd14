"""What crosses between the checks and the student's process: the safe result encoding
(`codec.py`) and the proxies for objects that stay in the student's process."""
from __future__ import annotations

import json
import struct

import numpy as np
import pytest
import torch

from arcourse.grading import GraderError, Limits, StudentCrash, StudentError, read_submission
from arcourse.grading.codec import ProtocolError, TooLarge, decode, encode
from arcourse.grading.sandbox import Budget, RemoteObject, Sandbox


def _keep(obj):
    return 7, type(obj).__qualname__, callable(obj)


def _roundtrip(value):
    return decode(encode("ok", value, _keep, 2**20), lambda n, name, c: ("handle", n, name, c))[1]


def test_data_round_trips_with_types_kept():
    value = [1, -2**70, 2.5, float("inf"), "text", None, True, b"\x00\xff", 1 + 2j, (1, (2,)),
             {"a": 1, (1, 2): [3]}, {1, 2}, frozenset({3}), torch.Size([2, 3]), torch.float16,
             torch.device("cpu"), np.dtype("<f4"), np.float32(2.5), np.int64(-3)]
    back = _roundtrip(value)
    assert back == value
    assert [type(v) for v in back] == [type(v) for v in value]


@pytest.mark.parametrize("tensor", [torch.randn(3, 4), torch.arange(6).reshape(2, 3).t(), torch.tensor(True),
                                    torch.zeros(0, 5), torch.randn(2, 2, dtype=torch.complex64),
                                    torch.randn(4).to(torch.bfloat16), torch.randn(3, requires_grad=True)])
def test_tensors_round_trip(tensor):
    back = _roundtrip(tensor)
    assert back.dtype == tensor.dtype and back.shape == tensor.shape and not back.requires_grad
    assert torch.equal(back, tensor.detach())


def test_arrays_round_trip_and_objects_become_handles():
    arrays = [np.arange(12.0).reshape(3, 4)[:, ::2], np.array(["ab", "c"]), np.zeros((2, 0), dtype=np.int8)]
    for array, back in zip(arrays, _roundtrip(arrays)):
        assert back.dtype == array.dtype and np.array_equal(back, array)
    assert _roundtrip([object(), np.array([object()], dtype=object)]) == [
        ("handle", 7, "object", False), ("handle", 7, "ndarray", False)]


def test_results_over_the_limit_are_refused():
    with pytest.raises(TooLarge, match="larger than the 1 MB"):
        encode("ok", torch.zeros(2**20), _keep, 2**20)


def _frame(tree, buffers=(), lengths=None):
    header = json.dumps({"s": "ok", "v": tree, "b": list(lengths if lengths is not None else map(len, buffers))})
    return struct.pack(">I", len(header)) + header.encode() + b"".join(buffers)


@pytest.mark.parametrize("frame", [
    b"\x00\x00",                                                        # truncated
    _frame({"pickle": "cos\nsystem\n"}),                                # unknown tag
    _frame({"ndarray": ["|O8", [1], 0]}, [b"\x00" * 8]),                # object arrays are never built
    _frame({"ndarray": ["<f8", [3], 0]}, [b"\x00" * 8]),                # shape does not match the bytes
    _frame({"tensor": ["float32", [-1], 0, "cpu"]}, [b""]),             # negative size
    _frame({"tensor": ["qint8", [1], 0, "cpu"]}, [b"\x00"]),            # dtype not allowed
    _frame({"tensor": ["float32", [1], 5, "cpu"]}, [b"\x00" * 4]),      # no such buffer
    _frame([1], [b"abc"], lengths=[10]),                                # lengths do not add up
    _frame({"dict": [[[1], 2]]}),                                       # unhashable key
    _frame({"int": "__import__('os')"}),                                # not a number
    _frame({"handle": [1, "x"]}),                                       # malformed handle
    _frame(json.loads("[" * 150 + "]" * 150)),                          # nested too deeply
    struct.pack(">I", 5) + b"[1,2]",                                    # not a header
])
def test_malformed_or_hostile_frames_are_refused(frame):
    with pytest.raises(ProtocolError):
        decode(frame, lambda *a: None)


# ---------------------------------------------------------------- proxies into a real process

SOURCE = '''
import os
import numpy as np
import torch

def make_data():
    return {"t": torch.ones(2), "a": np.arange(3), "n": (1, 2.5, "x")}

class Box:
    def __init__(self, n):
        self.items = list(range(n))
    def __len__(self):
        return len(self.items)
    def __getitem__(self, i):
        return self.items[i] * 10
    def __iter__(self):
        return iter(self.items)
    def total(self):
        return sum(self.items)

def combine(box, k):
    return box.total() * k

def missing_key():
    raise KeyError("nope")

def leave():
    os._exit(2)
'''


@pytest.fixture
def student(tmp_path):
    path = tmp_path / "ex99_remote.py"
    path.write_text(SOURCE)
    with Sandbox(read_submission(path), Limits(question_seconds=30), []) as box:
        yield box.proxy(Budget("remote", 30))


def test_objects_stay_in_the_student_process(student):
    data = student.make_data()
    assert torch.equal(data["t"], torch.ones(2)) and data["n"] == (1, 2.5, "x")
    box = student.Box(4)
    assert isinstance(box, RemoteObject) and repr(box) == "<student's Box>"
    assert len(box) == 4 and box[2] == 20 and list(box) == [0, 1, 2, 3] and box.total() == 6
    assert box.items == [0, 1, 2, 3]
    assert student.combine(box, 3) == 18                 # a handle goes back as an argument


def test_student_errors_keep_their_builtin_type(student):
    with pytest.raises(KeyError) as caught:
        student.missing_key()
    assert isinstance(caught.value, StudentError) and "missing_key() raised KeyError: 'nope'" in str(caught.value)
    assert 'ex99_remote.py, line 25, in missing_key: raise KeyError("nope")' in str(caught.value)
    with pytest.raises(AttributeError, match="does not define 'nothing'"):
        student.nothing()
    with pytest.raises(AttributeError):
        student._private


def test_after_a_restart_old_handles_are_refused(student):
    box = student.Box(2)
    with pytest.raises(StudentCrash, match="exited with code 2"):
        student.leave()
    with pytest.raises(StudentError, match="earlier run"):
        student.combine(box, 1)
    assert student.combine(student.Box(3), 1) == 3       # the restarted process works


def test_arguments_that_cannot_travel_are_a_grader_error(student):
    with pytest.raises(GraderError, match="cannot be sent"):
        student.combine(lambda: 1, 2)
