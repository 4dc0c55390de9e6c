"""Read the weights of dlib's face-recognition ResNet from the ``.dat`` file dlib ships.

The file is dlib's DNN ``serialize`` output of the network defined in dlib's example
``dnn_face_recognition_ex.cpp`` (``anet_type``), read here into plain NumPy arrays, one
dataclass per layer, listed from the input to the output. Nothing of dlib is imported.

How dlib writes the network (all integers little-endian):

- An integer is one control byte, whose low 4 bits give the number of value bytes (0-8) and
  whose bit ``0x80`` marks a negative number, followed by the magnitude, low byte first.
- A string is its length (an integer) and its bytes; a bool is the character ``'0'`` or ``'1'``.
- A scalar float is two integers: an int64 mantissa and an int16 exponent, the value being
  ``mantissa * 2**exponent`` (exponents 32000, 32001 and 32002 mean +inf, -inf and NaN).
- A tensor is a version (2), the dimensions ``num_samples, k, nr, nc`` and then its values
  as raw 4-byte little-endian IEEE floats (row-major, NCHW). An "alias tensor" (a view into
  a layer's ``params``) is a version (1) and the four dimensions, no values.
- The network: the loss layer writes its version, its own details (``loss_metric_2``:
  margin, distance threshold), then its sub-network. Each wrapper (``add_layer``,
  ``add_tag_layer``, ``add_skip_layer``) writes its version *before* its sub-network and its
  layer's details *after* it, so the file holds all the wrapper versions top-down (2 for a
  layer, 1 for a tag or a skip, 3 for the layer on the input), then the input layer, then
  the layers' details bottom-up, each followed by the wrapper's state (three bools and three
  empty tensors; the bottom one also its sample expansion factor).

Tag and skip wrappers write nothing but their version, and ``add_prev_`` does not write
which tag it adds: that wiring lives in the C++ type, so the reader follows a declared
architecture (:data:`FACE_RESNET_V1`) and checks every version, layer name, filter count,
kernel, stride and padding in the file against it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from faceguard.engine.dlib_engine import _MODEL_FILES, models_dir
from faceguard.errors import ConfigError

#: ``input_rgb_image_sized`` maps a pixel value ``v`` to ``(v - mean) / 256``.
INPUT_SCALE = 1.0 / 256.0

_SPECIAL_EXPONENTS = {32000: math.inf, 32001: -math.inf, 32002: math.nan}


# --- the layers, as plain data ------------------------------------------------------------


@dataclass(frozen=True)
class Conv:
    """``con_``, a cross-correlation: ``weights`` ``(out, in, rows, cols)``, ``bias`` ``(out,)``."""

    weights: np.ndarray
    bias: np.ndarray | None
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True)
class Affine:
    """``affine_`` (inference-time batch norm), per channel: ``gamma * x + beta``."""

    gamma: np.ndarray
    beta: np.ndarray


@dataclass(frozen=True)
class Relu:
    """``relu_``."""


@dataclass(frozen=True)
class Pool:
    """``max_pool_`` / ``avg_pool_``; ``size == (0, 0)`` pools each whole plane to one value."""

    kind: Literal["max", "avg"]
    size: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True)
class Tag:
    """``tagN``: remember the current output under ``id``."""

    id: int


@dataclass(frozen=True)
class Skip:
    """``skipN``: continue from the output last tagged ``id``."""

    id: int


@dataclass(frozen=True)
class AddPrev:
    """``add_prevN``: add the output last tagged ``tag``. Where the shapes differ, the result
    takes the larger of each dimension and the missing parts count as zeros (dlib's
    ``tt::add``)."""

    tag: int


@dataclass(frozen=True)
class FullyConnected:
    """``fc_`` on the flattened (C, H, W) input: ``x @ weights (+ bias)``, weights ``(in, out)``."""

    weights: np.ndarray
    bias: np.ndarray | None


Layer = Conv | Affine | Relu | Pool | Tag | Skip | AddPrev | FullyConnected


@dataclass(frozen=True)
class DlibNetwork:
    """A dlib network read from its file: the input, the layers from input to output, the loss.

    The input is an RGB image of ``input_size`` (rows, cols), each channel mapped to
    ``(value - mean_rgb[c]) * INPUT_SCALE``.
    """

    input_size: tuple[int, int]
    mean_rgb: tuple[float, float, float]
    layers: tuple[Layer, ...]
    loss: str
    margin: float
    distance_threshold: float

    @property
    def output_dimension(self) -> int:
        last = self.layers[-1]
        if not isinstance(last, FullyConnected):
            raise ConfigError("the network does not end with a fully connected layer")
        return int(last.weights.shape[1])


# --- the architecture the file must match ----------------------------------------------------


@dataclass(frozen=True)
class LayerSpec:
    """One wrapper of a dlib network type: ``kind`` and its template arguments."""

    kind: Literal["con", "affine", "relu", "max_pool", "avg_pool", "add_prev", "tag", "skip",
                  "fc"]
    args: tuple[int, ...] = ()


def _con(filters: int, size: int, stride: int) -> LayerSpec:
    # dlib's default padding: size // 2 at stride 1, none otherwise.
    pad = size // 2 if stride == 1 else 0
    return LayerSpec("con", (filters, size, size, stride, stride, pad, pad))


def _pool(kind: Literal["max_pool", "avg_pool"], size: int, stride: int) -> LayerSpec:
    pad = size // 2 if stride == 1 else 0
    return LayerSpec(kind, (size, size, stride, stride, pad, pad))


def _block(filters: int, stride: int) -> list[LayerSpec]:
    """``BN<con<N,3,3,1,1,relu<BN<con<N,3,3,stride,stride,SUBNET>>>>>``, top-down."""
    return [LayerSpec("affine"), _con(filters, 3, 1), LayerSpec("relu"), LayerSpec("affine"),
            _con(filters, 3, stride)]


def _ares(filters: int) -> list[LayerSpec]:
    """``relu<add_prev1<block<N,affine,1,tag1<SUBNET>>>>``, top-down."""
    return [LayerSpec("relu"), LayerSpec("add_prev", (1,)), *_block(filters, 1),
            LayerSpec("tag", (1,))]


def _ares_down(filters: int) -> list[LayerSpec]:
    """``relu<add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<N,affine,2,tag1<SUBNET>>>>>>>``."""
    return [LayerSpec("relu"), LayerSpec("add_prev", (2,)), _pool("avg_pool", 2, 2),
            LayerSpec("skip", (1,)), LayerSpec("tag", (2,)), *_block(filters, 2),
            LayerSpec("tag", (1,))]


#: ``anet_type`` of ``dnn_face_recognition_ex.cpp`` below its loss, top-down (as in the file).
FACE_RESNET_V1: tuple[LayerSpec, ...] = (
    LayerSpec("fc", (128,)),
    _pool("avg_pool", 0, 1),
    *_ares_down(256),
    *_ares(256), *_ares(256), *_ares_down(256),
    *_ares(128), *_ares(128), *_ares_down(128),
    *_ares(64), *_ares(64), *_ares(64), *_ares_down(64),
    *_ares(32), *_ares(32), *_ares(32),
    _pool("max_pool", 3, 2),
    LayerSpec("relu"),
    LayerSpec("affine"),
    _con(32, 7, 2),
)

#: The input layer of the face network and its size.
FACE_INPUT = ("input_rgb_image_sized", 150)


# --- the byte-level reader -------------------------------------------------------------------


class _FormatError(Exception):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


class _Reader:
    """dlib's portable encodings over a bytes buffer, with the offset for error messages."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _take(self, count: int, what: str) -> bytes:
        if count < 0 or self.pos + count > len(self.data):
            raise _FormatError(
                f"the file ends early (truncated?) while reading {what}: {count} bytes needed, "
                f"{len(self.data) - self.pos} left", self.pos)
        chunk = self.data[self.pos:self.pos + count]
        self.pos += count
        return chunk

    def integer(self, what: str) -> int:
        start = self.pos
        control = self._take(1, what)[0]
        size = control & 0x0F
        if control & 0x70 or size > 8:
            raise _FormatError(f"byte 0x{control:02x} is not an integer ({what})", start)
        value = int.from_bytes(self._take(size, what), "little")
        return -value if control & 0x80 else value

    def expect_int(self, expected: int, what: str) -> None:
        start = self.pos
        value = self.integer(what)
        if value != expected:
            raise _FormatError(f"{what} is {value}, expected {expected}", start)

    def string(self, what: str, limit: int = 256) -> str:
        start = self.pos
        length = self.integer(what)
        if not 0 <= length <= limit:
            raise _FormatError(f"implausible string length {length} ({what})", start)
        raw = self._take(length, what)
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError as exc:
            raise _FormatError(f"{what} is not an ASCII string", start) from exc

    def name(self, expected: tuple[str, ...], what: str) -> str:
        start = self.pos
        found = self.string(what)
        if found not in expected:
            raise _FormatError(
                f"{what}: found {found!r}, expected {' or '.join(map(repr, expected))}", start)
        return found

    def boolean(self, what: str) -> bool:
        start = self.pos
        byte = self._take(1, what)
        if byte not in (b"0", b"1"):
            raise _FormatError(f"{what} is not a bool ('0' or '1') but 0x{byte[0]:02x}", start)
        return byte == b"1"

    def real(self, what: str) -> float:
        start = self.pos
        if self.pos < len(self.data) and self.data[self.pos] & 0x70:
            raise _FormatError(f"{what} uses dlib's old text encoding of floats", start)
        mantissa = self.integer(what)
        exponent = self.integer(what)
        if exponent in _SPECIAL_EXPONENTS:
            return _SPECIAL_EXPONENTS[exponent]
        if not -32768 <= exponent <= 32767:
            raise _FormatError(f"{what}: float exponent {exponent} out of range", start)
        return math.ldexp(mantissa, exponent)

    def dims(self, version: int, what: str) -> tuple[int, int, int, int]:
        self.expect_int(version, f"{what} (tensor version)")
        start = self.pos
        n, k, nr, nc = (self.integer(what) for _ in range(4))
        if min(n, k, nr, nc) < 0:
            raise _FormatError(f"{what}: negative tensor dimensions {(n, k, nr, nc)}", start)
        return n, k, nr, nc

    def tensor(self, what: str) -> np.ndarray:
        """A tensor with its values: a flat float32 array (the dims are checked by callers)."""
        n, k, nr, nc = self.dims(2, what)
        count = n * k * nr * nc
        raw = self._take(4 * count, f"{what} ({count} floats)")
        return np.frombuffer(raw, dtype="<f4").astype(np.float32)

    def alias(self, what: str) -> tuple[int, int, int, int]:
        return self.dims(1, what)


# --- reading the network ---------------------------------------------------------------------


def read_dat(path: Path | None = None, spec: tuple[LayerSpec, ...] = FACE_RESNET_V1
             ) -> DlibNetwork:
    """Read a dlib face-recognition ResNet file (by default the one dlib's engine loads).

    Raises ``ConfigError`` naming the file, the byte offset and what was expected when the
    file is missing, truncated, corrupt or of another architecture.
    """
    path = path or models_dir() / _MODEL_FILES["embedder"]
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read the dlib model {path}: {exc.strerror or exc}") from exc
    return parse_dat(data, source=str(path), spec=spec)


def parse_dat(data: bytes, *, source: str = "<bytes>",
              spec: tuple[LayerSpec, ...] = FACE_RESNET_V1) -> DlibNetwork:
    """Parse the bytes of a dlib network file against ``spec`` (see :func:`read_dat`)."""
    reader = _Reader(data)
    try:
        network = _parse(reader, spec)
        if reader.pos != len(data):
            raise _FormatError(
                f"{len(data) - reader.pos} unexpected bytes after the last layer", reader.pos)
    except _FormatError as exc:
        raise ConfigError(
            f"{source} is not a readable dlib face-recognition ResNet "
            f"(dlib_face_recognition_resnet_model_v1): {exc} (at byte {exc.offset})"
        ) from exc
    return network


def _parse(reader: _Reader, spec: tuple[LayerSpec, ...]) -> DlibNetwork:
    if not spec or spec[-1].kind in ("tag", "skip"):
        raise ValueError("the architecture must end (at the input) with a layer")
    reader.expect_int(1, "the loss layer's version")
    loss = reader.name(("loss_metric_2",), "the loss layer")
    margin = reader.real("the loss margin")
    threshold = reader.real("the loss distance threshold")

    for index, node in enumerate(spec):
        wrapper = 1 if node.kind in ("tag", "skip") else 2
        version = 3 if index == len(spec) - 1 else wrapper
        reader.expect_int(version, f"the version of wrapper {index + 1} ({node.kind}) "
                                   f"of {len(spec)} from the loss")

    input_name, input_side = FACE_INPUT
    reader.name((input_name,), "the input layer")
    mean = (reader.real("the input's red mean"), reader.real("the input's green mean"),
            reader.real("the input's blue mean"))
    reader.expect_int(input_side, "the input rows")
    reader.expect_int(input_side, "the input columns")

    layers: list[Layer] = []
    counted = [n for n in reversed(spec) if n.kind not in ("tag", "skip")]
    position = 0
    for node in reversed(spec):
        if node.kind == "tag":
            layers.append(Tag(node.args[0]))
            continue
        if node.kind == "skip":
            layers.append(Skip(node.args[0]))
            continue
        position += 1
        what = f"layer {position} of {len(counted)} from the input ({node.kind})"
        layers.append(_read_layer(reader, node, what))
        _read_wrapper_state(reader, what, bottom=position == 1)
    return DlibNetwork((input_side, input_side), mean, tuple(layers), loss, margin, threshold)


def _read_wrapper_state(reader: _Reader, what: str, *, bottom: bool) -> None:
    for flag in ("setup called", "gradient stale", "output disabled"):
        reader.boolean(f"{what}: {flag} flag")
    for buffer in ("x_grad", "cached output", "params_grad"):
        reader.tensor(f"{what}: {buffer}")
    if bottom:
        reader.expect_int(1, f"{what}: sample expansion factor")


def _read_layer(reader: _Reader, node: LayerSpec, what: str) -> Layer:
    if node.kind == "con":
        return _read_con(reader, node, what)
    if node.kind == "affine":
        return _read_affine(reader, what)
    if node.kind == "relu":
        reader.name(("relu_",), what)
        return Relu()
    if node.kind in ("max_pool", "avg_pool"):
        reader.name((f"{node.kind}_2",), what)
        for field, expected in zip(("rows", "cols", "stride y", "stride x", "padding y",
                                    "padding x"), node.args, strict=True):
            reader.expect_int(expected, f"{what}: {field}")
        rows, cols, sy, sx, py, px = node.args
        return Pool("max" if node.kind == "max_pool" else "avg", (rows, cols), (sy, sx),
                    (py, px))
    if node.kind == "add_prev":
        reader.name(("add_prev_",), what)
        return AddPrev(node.args[0])
    if node.kind == "fc":
        return _read_fc(reader, node, what)
    raise ValueError(f"no reader for layer kind {node.kind!r}")


def _multipliers(reader: _Reader, what: str) -> None:
    for name in ("learning rate", "weight decay", "bias learning rate", "bias weight decay"):
        reader.real(f"{what}: {name} multiplier")


def _read_con(reader: _Reader, node: LayerSpec, what: str) -> Conv:
    version = reader.name(("con_4", "con_5"), what)
    params = reader.tensor(f"{what}: params")
    fields = ("filters", "rows", "cols", "stride y", "stride x", "padding y", "padding x")
    for field, expected in zip(fields, node.args, strict=True):
        reader.expect_int(expected, f"{what}: {field}")
    filters, rows, cols, sy, sx, py, px = node.args
    start = reader.pos
    shape = reader.alias(f"{what}: filters")
    if shape[0] != filters or shape[2:] != (rows, cols) or shape[1] < 1:
        raise _FormatError(f"{what}: filter shape {shape}, expected ({filters}, k, {rows}, "
                           f"{cols})", start)
    start = reader.pos
    bias_shape = reader.alias(f"{what}: biases")
    if bias_shape not in ((1, filters, 1, 1), (0, 0, 0, 0)):
        raise _FormatError(f"{what}: bias shape {bias_shape}", start)
    _multipliers(reader, what)
    if version == "con_5" and not reader.boolean(f"{what}: use bias") and bias_shape[0]:
        raise _FormatError(f"{what}: bias disabled but present", reader.pos)
    size = math.prod(shape)
    has_bias = bias_shape[0] == 1
    if params.size != size + (filters if has_bias else 0):
        raise _FormatError(f"{what}: {params.size} parameters do not fit filters {shape}",
                           start)
    weights = params[:size].reshape(shape)
    return Conv(weights, params[size:].copy() if has_bias else None, (sy, sx), (py, px))


def _read_affine(reader: _Reader, what: str) -> Affine:
    reader.name(("affine_",), what)
    params = reader.tensor(f"{what}: params")
    start = reader.pos
    gamma = reader.alias(f"{what}: gamma")
    beta = reader.alias(f"{what}: beta")
    mode = reader.integer(f"{what}: mode")
    if mode != 0 or gamma != beta or gamma[0] != 1 or gamma[2:] != (1, 1):
        raise _FormatError(f"{what}: only per-channel (CONV_MODE) affine layers are "
                           f"supported; found mode {mode}, gamma {gamma}", start)
    channels = gamma[1]
    if params.size != 2 * channels:
        raise _FormatError(f"{what}: {params.size} parameters for {channels} channels", start)
    return Affine(params[:channels].copy(), params[channels:].copy())


def _read_fc(reader: _Reader, node: LayerSpec, what: str) -> FullyConnected:
    reader.name(("fc_2",), what)
    reader.expect_int(node.args[0], f"{what}: outputs")
    start = reader.pos
    inputs = reader.integer(f"{what}: inputs")
    outputs = node.args[0]
    params = reader.tensor(f"{what}: params")
    weights = reader.alias(f"{what}: weights")
    bias_shape = reader.alias(f"{what}: biases")
    bias_mode = reader.integer(f"{what}: bias mode")
    _multipliers(reader, what)
    has_bias = bias_mode == 0
    if inputs < 1 or weights != (inputs, outputs, 1, 1) or bias_mode not in (0, 1):
        raise _FormatError(f"{what}: weights {weights} for {inputs} inputs, bias mode "
                           f"{bias_mode}", start)
    if has_bias and bias_shape != (1, outputs, 1, 1):
        raise _FormatError(f"{what}: bias shape {bias_shape}", start)
    if params.size != (inputs + has_bias) * outputs:
        raise _FormatError(f"{what}: {params.size} parameters for {inputs}x{outputs}", start)
    matrix = params[:inputs * outputs].reshape(inputs, outputs)
    bias = params[inputs * outputs:].copy() if has_bias else None
    return FullyConnected(matrix, bias)
