"""dlib's face-recognition ResNet on ONNX Runtime, built from the weights dlib ships.

:class:`FastEmbedder` reads ``dlib_face_recognition_resnet_model_v1.dat`` with
:mod:`.dlib_dat`, builds the same network as an ONNX graph in memory (each ``affine_``
folded into the convolution before it) and runs it on ONNX Runtime's CPU kernels.
:class:`FastDlibEngine` is :class:`DlibEngine` with that embedder: same detection, same
alignment, same model file, hence the same ``engine_id`` and template space. Before its
first embedding it checks itself against dlib (cosine >= :data:`MIN_COSINE`); if the file
cannot be read, a backend is missing or the check fails, it embeds with dlib itself and
says why in ``fallback_reason``.

Needs the ``onnx`` package (graph building) besides ``onnxruntime``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from faceguard.engine.dlib_dat import (
    INPUT_SCALE,
    AddPrev,
    Affine,
    Conv,
    DlibNetwork,
    FullyConnected,
    Pool,
    Relu,
    Skip,
    Tag,
    read_dat,
)
from faceguard.engine.dlib_engine import CHIP_SIZE, DlibEngine
from faceguard.errors import ConfigError, FaceguardError, ImageError

#: The agreement with dlib required before the fast path is used (cosine of the vectors).
MIN_COSINE = 0.9999

#: ONNX operator set of the generated graph (supported by onnxruntime >= 1.12).
_OPSET = 17
_IR_VERSION = 8

_Shape = tuple[int, int, int]


class FastEmbedder:
    """The 128-d dlib face descriptor of 150x150 RGB chips, on ONNX Runtime.

    ``threads`` is ONNX Runtime's intra-op thread count (1 = one core, like dlib); with
    more than one, worker threads sleep instead of spinning when idle so that a shared
    machine is not kept busy. Batches are run ``batch_size`` chips at a time. The model is
    read and the session built on first use (or by :meth:`load`), not in the constructor.
    """

    dimension = 128

    def __init__(self, model_path: Path | None = None, *, threads: int = 1,
                 batch_size: int = 32) -> None:
        if threads < 1 or batch_size < 1:
            raise ValueError("threads and batch_size must be at least 1")
        self.model_path = model_path
        self.threads = threads
        self.batch_size = batch_size
        self._lock = threading.Lock()
        self._session: Any = None

    def load(self) -> None:
        """Read the weights and build the session now; ``ConfigError`` if that fails."""
        self._run_session()

    def _run_session(self) -> Any:
        with self._lock:
            if self._session is None:
                network = read_dat(self.model_path)
                self._session = _make_session(network_to_onnx(network), self.threads)
            return self._session

    def embed(self, chip: np.ndarray) -> np.ndarray:
        """The descriptor of one aligned chip ((150, 150, 3) uint8 RGB), ``(128,)`` float32."""
        vector: np.ndarray = self.embed_batch([chip])[0]
        return vector

    def embed_batch(self, chips: Sequence[np.ndarray]) -> np.ndarray:
        """Descriptors of several chips, ``(n, 128)`` float32 (the same as one by one)."""
        if len(chips) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        for index, chip in enumerate(chips):
            _check_chip(chip, index)
        session = self._run_session()
        out = []
        for start in range(0, len(chips), self.batch_size):
            batch = np.stack(chips[start:start + self.batch_size])
            out.append(np.asarray(session.run(None, {"chips": batch})[0]))
        result: np.ndarray = np.ascontiguousarray(np.concatenate(out), dtype=np.float32)
        return result


def _check_chip(chip: np.ndarray, index: int) -> None:
    expected = (CHIP_SIZE, CHIP_SIZE, 3)
    if not isinstance(chip, np.ndarray) or chip.shape != expected or chip.dtype != np.uint8:
        got = (f"{chip.shape} {chip.dtype}" if isinstance(chip, np.ndarray)
               else type(chip).__name__)
        raise ImageError(f"chip {index}: an aligned chip is a {expected} uint8 RGB array, "
                         f"got {got}")


def _make_session(model: bytes, threads: int) -> Any:
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ConfigError("the fast embedder needs onnxruntime (pip install onnxruntime)"
                          ) from exc
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    if threads > 1:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(model, sess_options=options,
                                    providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own (non-exported) exception types
        raise ConfigError(f"ONNX Runtime refused the generated ResNet graph: {exc}") from exc


# --- the graph -------------------------------------------------------------------------------


class _Graph:
    """Collects ONNX nodes and initializers while walking the layers."""

    def __init__(self, helper: Any, numpy_helper: Any) -> None:
        self.helper = helper
        self.numpy_helper = numpy_helper
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0

    def name(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def const(self, stem: str, value: np.ndarray) -> str:
        name = self.name(stem)
        self.initializers.append(self.numpy_helper.from_array(value, name))
        return name

    def op(self, op_type: str, inputs: list[str], stem: str, **attrs: Any) -> str:
        out = self.name(stem)
        self.nodes.append(self.helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out


def network_to_onnx(network: DlibNetwork) -> bytes:
    """The serialized ONNX model of ``network``: input ``chips`` ``(n, rows, cols, 3)`` uint8
    RGB, output ``descriptors`` ``(n, out)`` float32. ``ConfigError`` without ``onnx``."""
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError as exc:
        raise ConfigError("the fast embedder needs the onnx package to build its graph "
                          "(pip install onnx)") from exc
    graph = _Graph(helper, numpy_helper)
    rows, cols = network.input_size
    mean = np.asarray(network.mean_rgb, dtype=np.float32)
    x = graph.op("Cast", ["chips"], "pixels", to=TensorProto.FLOAT)
    x = graph.op("Sub", [x, graph.const("mean", mean)], "centred")
    x = graph.op("Mul", [x, graph.const("scale", np.asarray(INPUT_SCALE, np.float32))],
                 "scaled")
    x = graph.op("Transpose", [x], "nchw", perm=[0, 3, 1, 2])
    x = _emit_layers(graph, network, x, (3, rows, cols))
    graph.nodes.append(helper.make_node("Identity", [x], ["descriptors"]))
    model = helper.make_model(
        helper.make_graph(
            graph.nodes, "dlib_face_recognition_resnet_model_v1",
            [helper.make_tensor_value_info("chips", TensorProto.UINT8, ["n", rows, cols, 3])],
            [helper.make_tensor_value_info("descriptors", TensorProto.FLOAT,
                                           ["n", network.output_dimension])],
            graph.initializers,
        ),
        opset_imports=[helper.make_opsetid("", _OPSET)],
        ir_version=_IR_VERSION,
        producer_name="faceguard",
    )
    try:
        onnx.checker.check_model(model)
    except onnx.checker.ValidationError as exc:
        raise ConfigError(f"the ResNet graph built from the dlib model is invalid: {exc}"
                          ) from exc
    data: bytes = model.SerializeToString()
    return data


def _emit_layers(graph: _Graph, network: DlibNetwork, x: str, shape: _Shape) -> str:
    """Add the layers' nodes bottom-up; return the name of the last output."""
    tags: dict[int, tuple[str, _Shape]] = {}
    layers = network.layers
    index = 0
    while index < len(layers):
        layer = layers[index]
        index += 1
        if isinstance(layer, Conv):
            folded = layers[index] if index < len(layers) else None
            if isinstance(folded, Affine):
                index += 1
            x, shape = _conv(graph, layer, folded if isinstance(folded, Affine) else None,
                             x, shape)
        elif isinstance(layer, Affine):
            channels = (-1, 1, 1)
            x = graph.op("Mul", [x, graph.const("gamma", layer.gamma.reshape(channels))], "bn")
            x = graph.op("Add", [x, graph.const("beta", layer.beta.reshape(channels))], "bn")
        elif isinstance(layer, Relu):
            x = graph.op("Relu", [x], "relu")
        elif isinstance(layer, Pool):
            x, shape = _pool(graph, layer, x, shape)
        elif isinstance(layer, Tag):
            tags[layer.id] = (x, shape)
        elif isinstance(layer, Skip):
            x, shape = _tagged(tags, layer.id)
        elif isinstance(layer, AddPrev):
            other, other_shape = _tagged(tags, layer.tag)
            target = (max(shape[0], other_shape[0]), max(shape[1], other_shape[1]),
                      max(shape[2], other_shape[2]))
            x = graph.op("Add", [_zero_pad(graph, x, shape, target),
                                 _zero_pad(graph, other, other_shape, target)], "add")
            shape = target
        elif isinstance(layer, FullyConnected):
            if layer.weights.shape[0] != shape[0] * shape[1] * shape[2]:
                raise ConfigError(f"the fully connected layer takes {layer.weights.shape[0]} "
                                  f"inputs but receives {shape}")
            x = graph.op("Flatten", [x], "flat", axis=1)
            x = graph.op("MatMul", [x, graph.const("fc", layer.weights)], "fc")
            if layer.bias is not None:
                x = graph.op("Add", [x, graph.const("fc_bias", layer.bias)], "fc")
            shape = (layer.weights.shape[1], 1, 1)
    return x


def _tagged(tags: dict[int, tuple[str, _Shape]], tag: int) -> tuple[str, _Shape]:
    if tag not in tags:
        raise ConfigError(f"the network refers to tag{tag} before defining it")
    return tags[tag]


def _conv(graph: _Graph, conv: Conv, affine: Affine | None, x: str, shape: _Shape
          ) -> tuple[str, _Shape]:
    weights = conv.weights.astype(np.float32)
    out_channels, in_channels, rows, cols = weights.shape
    if in_channels != shape[0]:
        raise ConfigError(f"a convolution takes {in_channels} channels but receives {shape}")
    bias = (conv.bias if conv.bias is not None else np.zeros(out_channels, np.float32))
    if affine is not None:  # gamma * (w * x + b) + beta == (gamma * w) * x + (gamma * b + beta)
        weights = weights * affine.gamma.reshape(-1, 1, 1, 1)
        bias = bias * affine.gamma + affine.beta
    (sy, sx), (py, px) = conv.stride, conv.padding
    x = graph.op("Conv", [x, graph.const("w", weights), graph.const("b", bias.astype(np.float32))],
                 "conv", kernel_shape=[rows, cols], strides=[sy, sx], pads=[py, px, py, px])
    return x, (out_channels, _out_size(shape[1], rows, sy, py), _out_size(shape[2], cols, sx, px))


def _pool(graph: _Graph, pool: Pool, x: str, shape: _Shape) -> tuple[str, _Shape]:
    if pool.size == (0, 0):
        op = "GlobalAveragePool" if pool.kind == "avg" else "GlobalMaxPool"
        return graph.op(op, [x], "gpool"), (shape[0], 1, 1)
    (rows, cols), (sy, sx), (py, px) = pool.size, pool.stride, pool.padding
    op = "AveragePool" if pool.kind == "avg" else "MaxPool"
    out = graph.op(op, [x], "pool", kernel_shape=[rows, cols], strides=[sy, sx],
                   pads=[py, px, py, px])
    return out, (shape[0], _out_size(shape[1], rows, sy, py), _out_size(shape[2], cols, sx, px))


def _out_size(size: int, kernel: int, stride: int, pad: int) -> int:
    """dlib's (and ONNX's floor-mode) output size of a convolution or pooling."""
    out = (size + 2 * pad - kernel) // stride + 1
    if out < 1:
        raise ConfigError(f"a {kernel}x{kernel} window does not fit a {size}-pixel input")
    return out


def _zero_pad(graph: _Graph, x: str, shape: _Shape, target: _Shape) -> str:
    """Pad channels, rows and columns at their ends with zeros up to ``target``."""
    if shape == target:
        return x
    ends = [t - s for t, s in zip(target, shape, strict=True)]
    pads = graph.const("pads", np.asarray([0, 0, 0, 0, 0, *ends], dtype=np.int64))
    return graph.op("Pad", [x, pads], "pad", mode="constant")


# --- the engine ------------------------------------------------------------------------------


class FastDlibEngine(DlibEngine):
    """:class:`DlibEngine` whose embeddings come from :class:`FastEmbedder`.

    Detection and alignment are dlib's. The embedding model is the same file, so
    ``engine_id`` is the same and templates of both engines compare: this holds because
    the fast path agrees with dlib to a cosine of at least :data:`MIN_COSINE` (tested on
    real faces) and, with ``self_check``, it is checked against dlib once before first use.
    When the fast path cannot be used, dlib embeds and ``fallback_reason`` says why;
    ``backend`` is ``"onnxruntime"`` or ``"dlib"`` (asking for it loads the embedder).
    """

    def __init__(self, *, threads: int = 1, self_check: bool = True, min_face_px: int = 40,
                 max_detect_side: int = 2000, cnn_fallback: bool = True,
                 cnn_max_side: int = 400, pool_size: int | None = None) -> None:
        super().__init__(min_face_px=min_face_px, max_detect_side=max_detect_side,
                         cnn_fallback=cnn_fallback, cnn_max_side=cnn_max_side,
                         pool_size=pool_size)
        self.threads = threads
        self.self_check = self_check
        self.fallback_reason: str | None = None
        self.self_check_cosine: float | None = None
        self._fast: FastEmbedder | None = None
        self._fast_lock = threading.Lock()
        self._fast_ready = False

    def _settings(self) -> dict[str, Any]:
        return {**super()._settings(), "threads": self.threads, "self_check": self.self_check}

    @property
    def backend(self) -> str:
        return "onnxruntime" if self._embedder() is not None else "dlib"

    def _embedder(self) -> FastEmbedder | None:
        with self._fast_lock:
            if not self._fast_ready:
                self._fast = self._try_fast()
                self._fast_ready = True
            return self._fast

    def _try_fast(self) -> FastEmbedder | None:
        # The model file is the one DlibEngine loads (and engine_id hashes): same weights.
        fast = FastEmbedder(threads=self.threads)
        try:
            fast.load()
            if self.self_check:
                chip = _check_chip_image()
                ours, theirs = fast.embed(chip), super().embed(chip)
                cosine = float(np.dot(ours, theirs)
                               / (np.linalg.norm(ours) * np.linalg.norm(theirs)))
                self.self_check_cosine = cosine
                if not cosine >= MIN_COSINE:
                    self.fallback_reason = (f"self-check against dlib failed: cosine "
                                            f"{cosine:.6f} < {MIN_COSINE}")
                    return None
        except FaceguardError as exc:
            self.fallback_reason = f"fast embedder unavailable: {exc}"
            return None
        return fast

    def embed(self, chip: np.ndarray) -> np.ndarray:
        """The 128-d descriptor of an aligned 150x150 chip, as float32."""
        fast = self._embedder()
        return fast.embed(chip) if fast is not None else super().embed(chip)

    def embed_batch(self, chips: list[np.ndarray]) -> np.ndarray:
        """Descriptors of several chips at once, ``(n, 128)`` float32."""
        fast = self._embedder()
        return fast.embed_batch(chips) if fast is not None else super().embed_batch(chips)


def _check_chip_image() -> np.ndarray:
    """A fixed, smooth, face-sized test pattern (deterministic; no image file needed)."""
    axis = np.linspace(-1.0, 1.0, CHIP_SIZE)
    yy, xx = np.meshgrid(axis, axis, indexing="ij")
    blob = np.exp(-(xx**2 + (yy * 1.3) ** 2) * 2.5)
    channels = [blob * 200 + 30 * np.sin(6 * xx + k) + 25 * np.cos(5 * yy - k)
                for k in range(3)]
    rng = np.random.default_rng(150)
    image = np.stack(channels, axis=-1) + rng.normal(0.0, 8.0, (CHIP_SIZE, CHIP_SIZE, 3))
    return np.clip(image + 20, 0, 255).astype(np.uint8)
