"""What comes back from a submission's process: data in a tagged encoding that is safe to read.

The grader never unpickles anything the student's process sends. A result travels as a JSON
tree plus raw byte buffers: numbers, strings, lists, tuples, dicts and sets as themselves,
tensors and arrays as (dtype, shape, bytes) with the dtype taken from a short allow-list,
and every other object (a module, a function, an instance of a student's class) as a
numbered handle that stays in the student's process. Decoding checks every tag, dtype,
shape and length, so a malformed or hostile message is refused with `ProtocolError`; and it
is bounded: each buffer is used once, the decoded size is capped, set and dict keys that
share hash values are refused, and the decoder watches the call's deadline.

Frame layout: 4-byte header length, the UTF-8 JSON header {"s": status, "v": tree,
"b": [buffer lengths]}, then the buffers back to back.
"""
from __future__ import annotations

import json
import re
import struct
import time
from typing import Any, Callable

import numpy as np
import torch

TORCH_DTYPES = {str(d).removeprefix("torch."): d for d in (
    torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64,
    torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.complex64, torch.complex128)}
_NUMPY_DTYPE = re.compile(r"[<>|=]?[biufcSU][1-9][0-9]{0,3}")
_NUMPY_KINDS = set("biufcSU")
_MAX_DIMS = 32
_MAX_DEPTH = 100
_SMALL_INT = 2**63


class ProtocolError(Exception):
    """A message from the student's process that is not a well-formed result."""


class TooLarge(ValueError):
    """A result bigger than the grader accepts."""


# --------------------------------------------------------------------------- encoding (child)

class _Encoder:
    def __init__(self, keep: Callable[[Any], tuple[int, str, bool]], limit: int):
        self.keep, self.limit = keep, limit
        self.buffers: list[bytes] = []
        self.size = 0

    def buffer(self, data: bytes) -> int:
        self.size += len(data)
        if self.size > self.limit:
            raise TooLarge(f"the result is larger than the {self.limit // 2**20} MB the grader accepts")
        self.buffers.append(data)
        return len(self.buffers) - 1

    def tensor(self, value: torch.Tensor):
        name = str(value.dtype).removeprefix("torch.")
        if (name not in TORCH_DTYPES or value.layout != torch.strided or value.is_quantized
                or value.device.type == "meta"):
            return None
        device = str(value.device)
        flat = value.detach().to("cpu").resolve_conj().resolve_neg().contiguous().reshape(-1)
        data = flat.view(torch.uint8).numpy().tobytes() if flat.numel() else b""
        return {"tensor": [name, list(value.shape), self.buffer(data), device]}

    def ndarray(self, value: np.ndarray):
        if value.dtype.kind not in _NUMPY_KINDS or value.dtype.fields is not None:
            return None
        value = np.ascontiguousarray(value)
        return {"ndarray": [value.dtype.str, list(value.shape), self.buffer(value.tobytes())]}

    def encode(self, value: Any, depth: int = 0):
        if depth > _MAX_DEPTH:
            return self.handle(value)
        kind = type(value)
        if value is None or kind in (bool, str, float):
            if kind is str:
                self.size += len(value)
                if self.size > self.limit:
                    raise TooLarge(f"the result is larger than the {self.limit // 2**20} MB the grader accepts")
            return value
        if kind is int:
            return value if -_SMALL_INT <= value < _SMALL_INT else {"int": hex(value)}
        if isinstance(value, torch.Tensor):
            return self.tensor(value) or self.handle(value)
        if isinstance(value, np.ndarray):
            return self.ndarray(value) or self.handle(value)
        if isinstance(value, np.generic):
            if value.dtype.kind in _NUMPY_KINDS and value.dtype.fields is None:
                return {"npscalar": [value.dtype.str, self.buffer(np.asarray(value).tobytes())]}
            return self.handle(value)
        if isinstance(value, torch.Size):
            return {"size": [int(n) for n in value]}
        if isinstance(value, torch.dtype):
            return {"torch_dtype": str(value).removeprefix("torch.")}
        if isinstance(value, torch.device):
            return {"device": str(value)}
        if isinstance(value, np.dtype):
            return {"np_dtype": value.str} if _NUMPY_DTYPE.fullmatch(value.str) else self.handle(value)
        if kind is complex:
            return {"complex": [value.real, value.imag]}
        if kind is bytes:
            return {"bytes": self.buffer(value)}
        if isinstance(value, (bool, int, float, str)):      # subclasses such as IntEnum: plain values
            for plain in (bool, int, float, str):
                if isinstance(value, plain):
                    return self.encode(plain(value), depth)
        if isinstance(value, list):
            return [self.encode(v, depth + 1) for v in list.__iter__(value)]
        if isinstance(value, tuple):
            return {"tuple": [self.encode(v, depth + 1) for v in tuple.__iter__(value)]}
        if isinstance(value, dict):
            return {"dict": [[self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in dict.items(value)]}
        if isinstance(value, (set, frozenset)):
            tag = "frozenset" if isinstance(value, frozenset) else "set"
            return {tag: [self.encode(v, depth + 1) for v in value]}
        return self.handle(value)

    def handle(self, value: Any):
        number, name, is_callable = self.keep(value)
        return {"handle": [number, name, is_callable]}


def encode(status: str, value: Any, keep: Callable[[Any], tuple[int, str, bool]], limit: int) -> bytes:
    """One frame holding `value` (see the module docstring); objects that are not data go to
    `keep(obj) -> (handle number, type name, callable)` and travel as handles."""
    encoder = _Encoder(keep, limit)
    tree = encoder.encode(value)
    header = json.dumps({"s": status, "v": tree, "b": [len(b) for b in encoder.buffers]},
                        separators=(",", ":")).encode("utf-8")
    return struct.pack(">I", len(header)) + header + b"".join(encoder.buffers)


# --------------------------------------------------------------------------- decoding (grader)

_NODE_BYTES = 16          # what one decoded number, string or handle is counted as (plus its text)
_CONTAINER_BYTES = 64     # ... and one list, tuple, dict or set
_SAME_HASH = 8            # distinct keys of one set or dict that may share a hash value
_CLOCK_EVERY = 4096       # nodes between looks at the deadline


class _Decoder:
    """Rebuilds a result within bounds: each buffer is used at most once, the decoded size is
    counted against `max_bytes`, set and dict keys are refused when many share one hash
    (CPython would insert them in quadratic time), and the clock is read as it goes."""

    def __init__(self, buffers: list[memoryview], make_handle: Callable[[int, str, bool], Any],
                 max_bytes: int, deadline: float | None):
        self.buffers, self.make_handle = buffers, make_handle
        self.used: set[int] = set()
        self.left, self.deadline, self.nodes = max_bytes, deadline, 0

    def spend(self, nbytes: int) -> None:
        self.left -= nbytes
        if self.left < 0:
            raise ProtocolError("the decoded result would be larger than the grader accepts")
        self.nodes += 1
        if self.deadline is not None and self.nodes % _CLOCK_EVERY == 0 and time.monotonic() > self.deadline:
            raise TimeoutError

    def buffer(self, index: Any) -> memoryview:
        if type(index) is not int or not 0 <= index < len(self.buffers):
            raise ProtocolError(f"bad buffer index {index!r}")
        if index in self.used:
            raise ProtocolError(f"buffer {index} is referenced twice")
        self.used.add(index)
        self.spend(len(self.buffers[index]))
        return self.buffers[index]

    @staticmethod
    def check_keys(keys: list, tag: str) -> None:
        """Refuse keys of which more than a few distinct ones share a hash value."""
        seen: dict[int, int] = {}
        for key in keys:
            try:
                h = hash(key)
            except TypeError as err:
                raise ProtocolError(f"bad {tag}: {err}") from None
            seen[h] = seen.get(h, 0) + 1
            if seen[h] > _SAME_HASH:
                raise ProtocolError(f"bad {tag}: more than {_SAME_HASH} of its keys share one hash value")

    @staticmethod
    def shape(value: Any) -> tuple[int, ...]:
        if (type(value) is not list or len(value) > _MAX_DIMS
                or not all(type(n) is int and 0 <= n < 2**40 for n in value)):
            raise ProtocolError(f"bad shape {value!r:.80}")
        return tuple(value)

    def tensor(self, body: Any) -> torch.Tensor:
        if type(body) is not list or len(body) != 4 or body[0] not in TORCH_DTYPES or type(body[3]) is not str:
            raise ProtocolError("bad tensor header")
        dtype, shape, data = TORCH_DTYPES[body[0]], self.shape(body[1]), self.buffer(body[2])
        numel = 1
        for n in shape:
            numel *= n
        size = torch.empty((), dtype=dtype).element_size()
        if numel * size != len(data):
            raise ProtocolError(f"tensor of shape {shape} and dtype {body[0]} cannot hold {len(data)} bytes")
        if numel == 0:
            out = torch.empty(shape, dtype=dtype)
        else:
            out = torch.frombuffer(bytearray(data), dtype=torch.uint8).view(dtype).reshape(shape)
        return out.to(_local_device(body[3]))

    def ndarray(self, body: Any) -> np.ndarray:
        if type(body) is not list or len(body) != 3:
            raise ProtocolError("bad array header")
        dtype, shape, data = _numpy_dtype(body[0]), self.shape(body[1]), self.buffer(body[2])
        numel = 1
        for n in shape:
            numel *= n
        if numel * dtype.itemsize != len(data):
            raise ProtocolError(f"array of shape {shape} and dtype {dtype} cannot hold {len(data)} bytes")
        return np.frombuffer(data, dtype=dtype).reshape(shape).copy()

    def decode(self, tree: Any, depth: int = 0) -> Any:
        if depth > _MAX_DEPTH + 2:
            raise ProtocolError("result nested too deeply")
        kind = type(tree)
        self.spend(_CONTAINER_BYTES if kind is list or kind is dict else _NODE_BYTES + (len(tree) if kind is str else 0))
        if tree is None or kind in (bool, int, float, str):
            return tree
        if kind is list:
            return [self.decode(v, depth + 1) for v in tree]
        if kind is not dict or len(tree) != 1:
            raise ProtocolError(f"unexpected {kind.__name__} in a result")
        (tag, body), = tree.items()
        if tag == "tensor":
            return self.tensor(body)
        if tag == "ndarray":
            return self.ndarray(body)
        if tag == "npscalar":
            if type(body) is not list or len(body) != 2:
                raise ProtocolError("bad numpy scalar")
            dtype, data = _numpy_dtype(body[0]), self.buffer(body[1])
            if len(data) != dtype.itemsize:
                raise ProtocolError("bad numpy scalar size")
            return np.frombuffer(data, dtype=dtype)[0]
        if tag in ("tuple", "set", "frozenset", "size"):
            if type(body) is not list:
                raise ProtocolError(f"bad {tag}")
            items = [self.decode(v, depth + 1) for v in body]
            if tag == "size":
                if not all(type(n) is int for n in items):
                    raise ProtocolError("bad torch.Size")
                return torch.Size(items)
            if tag == "tuple":
                return tuple(items)
            self.check_keys(items, tag)
            return {"set": set, "frozenset": frozenset}[tag](items)
        if tag == "dict":
            if type(body) is not list or not all(type(p) is list and len(p) == 2 for p in body):
                raise ProtocolError("bad dict")
            keys = [self.decode(k, depth + 1) for k, _ in body]
            self.check_keys(keys, "dict")
            return dict(zip(keys, [self.decode(v, depth + 1) for _, v in body]))
        if tag == "int":
            if type(body) is not str or not re.fullmatch(r"-?0x[0-9a-f]{1,100000}", body):
                raise ProtocolError("bad integer")
            return int(body, 16)
        if tag == "complex":
            if type(body) is not list or len(body) != 2 or not all(type(x) in (int, float) for x in body):
                raise ProtocolError("bad complex number")
            return complex(body[0], body[1])
        if tag == "bytes":
            return bytes(self.buffer(body))
        if tag == "torch_dtype":
            if body not in TORCH_DTYPES:
                raise ProtocolError("unknown torch dtype")
            return TORCH_DTYPES[body]
        if tag == "np_dtype":
            return _numpy_dtype(body)
        if tag == "device":
            if type(body) is not str or not re.fullmatch(r"[a-z]{2,10}(:[0-9]{1,3})?", body):
                raise ProtocolError("bad device")
            return torch.device(body)
        if tag == "handle":
            if (type(body) is not list or len(body) != 3 or type(body[0]) is not int or type(body[1]) is not str
                    or type(body[2]) is not bool):
                raise ProtocolError("bad handle")
            return self.make_handle(body[0], body[1][:200], body[2])
        raise ProtocolError(f"unknown tag {tag!r:.40}")


def _numpy_dtype(text: Any) -> np.dtype:
    if type(text) is not str or not _NUMPY_DTYPE.fullmatch(text):
        raise ProtocolError(f"numpy dtype {text!r:.40} is not allowed")
    dtype = np.dtype(text)
    if dtype.kind not in _NUMPY_KINDS or dtype.hasobject or dtype.itemsize == 0:
        raise ProtocolError(f"numpy dtype {text!r:.40} is not allowed")
    return dtype


def _local_device(name: str) -> torch.device:
    """The student's device when this process has it too, else the CPU."""
    try:
        device = torch.device(name)
    except RuntimeError:
        return torch.device("cpu")
    if device.type == "cuda" and torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count():
        return device
    return torch.device("cpu")


_MAX_HEADER = 16 * 2**20       # the JSON part of a frame (big data travels in buffers)
_MAX_CONTAINERS = 2**20        # brackets in the header, a bound on what json.loads builds


def decode(frame: bytes, make_handle: Callable[[int, str, bool], Any], *, max_bytes: int | None = None,
           deadline: float | None = None) -> tuple[str, Any]:
    """(status, value) from one frame; raises ProtocolError for anything malformed or larger,
    once decoded, than `max_bytes` (default: 16 times the frame plus 16 MB), and
    TimeoutError when `deadline` (a `time.monotonic()` value) passes while decoding."""
    view = memoryview(frame)
    if len(view) < 4:
        raise ProtocolError("truncated message")
    (size,) = struct.unpack(">I", view[:4])
    if size > len(view) - 4:
        raise ProtocolError("truncated header")
    if size > _MAX_HEADER:
        raise ProtocolError(f"a header of {size} bytes is over the limit")
    raw = bytes(view[4:4 + size])
    if raw.count(b"[") + raw.count(b"{") > _MAX_CONTAINERS:
        raise ProtocolError("the result holds too many containers")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError, UnicodeDecodeError) as err:
        raise ProtocolError(f"unreadable header ({type(err).__name__})") from None
    if type(header) is not dict or set(header) != {"s", "v", "b"} or type(header["s"]) is not str:
        raise ProtocolError("bad header")
    lengths = header["b"]
    if type(lengths) is not list or not all(type(n) is int and n >= 0 for n in lengths):
        raise ProtocolError("bad buffer lengths")
    if sum(lengths) != len(view) - 4 - size:
        raise ProtocolError("buffer lengths do not add up")
    buffers, start = [], 4 + size
    for n in lengths:
        buffers.append(view[start:start + n])
        start += n
    if max_bytes is None:
        max_bytes = 16 * len(frame) + 16 * 2**20
    try:
        return header["s"], _Decoder(buffers, make_handle, max_bytes, deadline).decode(header["v"])
    except RecursionError:
        raise ProtocolError("result nested too deeply") from None
