"""INT8 post-training quantization with ONNX Runtime (static, QDQ), with a
measured float fallback.

``onnxruntime.quantization.quant_pre_process`` (shape inference, graph
optimisation) then ``quantize_static``: QDQ format, per-channel symmetric
int8 weights and int8 activations (S8S8), MinMax calibration on real face
crops. Not U8S8 (uint8 activations): on x86 CPUs without VNNI, ONNX
Runtime's U8S8 kernels use 16-bit intermediate sums that can saturate.

One int8 scale per activation tensor is not enough for every trained
model: a tensor whose range is set by a large offset (a ConvTranspose
output before its BatchNorm removes the offset) or by one outlier channel
loses what the next layer needs, and a heatmap's last convolution, which
subtracts large terms from each other, multiplies the relative error. Which
tensors this hits depends on the weights, and the same seed trains other
weights on other CPUs. So the export measures it (:func:`activation_sqnr`:
every activation of the QDQ model against the float model on the
calibration crops, ONNX Runtime's ``qdq_loss_debug`` SQNR) and, while an
activation is below ``MIN_SQNR_DB``, keeps in float the node where the SQNR
drops most among those below it, with the quantisation of its inputs, and
quantizes again (:func:`quantize_onnx_int8`). ``keep_head_fp32`` leaves
every node of the head in float from the start.
"""
from __future__ import annotations

import json
import math
import os
import os.path as osp
import tempfile
from dataclasses import asdict, dataclass
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Set

import numpy as np

from ..configs import DEPLOY_CONFIG_NAME, MODEL_CONFIG_NAME, copy_configs
from ..lite.runtimes import OrtRunner
from .mmdeploy import export_onnxruntime
from .target import INT8_PARITY, Target, register

#: Per-channel QDQ (``DequantizeLinear`` with ``axis``) needs opset 13.
PER_CHANNEL_OPSET = 13

#: Node-name prefixes of what is *not* the head in MMDeploy's ONNX export.
#: MMDeploy's rewrite of the estimator's forward calls the head's layers
#: directly, so they are named ``/upsample/...``, ``/final_layer/...`` (no
#: ``/head/`` level), while the backbone and neck keep their prefixes.
BODY_PREFIXES = ('/backbone/', '/neck/')

#: The SQNR (dB, QDQ model against the float model on the calibration
#: crops) that every activation must keep; below it, nodes are kept in
#: float. Measured (docs/embedded.md, section 8): backbone tensors keep
#: 18-37 dB; the tensors behind every failed NME check had 1-13 dB.
MIN_SQNR_DB = 15.0

#: At most this many rounds of "keep the worst node in float, quantize
#: again"; and stop after ``STALL_ROUNDS`` rounds that did not raise the
#: output's SQNR by ``STALL_GAIN_DB``.
MAX_ROUNDS = 12
STALL_ROUNDS = 4
STALL_GAIN_DB = 1.0

#: What ONNX Runtime's QDQ quantizer folds into the producer before it: to
#: keep their output in float, their input must be float too.
REMOVABLE_ACTIVATIONS = ('Relu', 'Clip')

#: Calibration crops the SQNR is measured on (the first ones).
SQNR_CROPS = 32

#: The report written beside the INT8 model.
REPORT_NAME = 'int8_report.json'


class _CropReader:
    """``onnxruntime.quantization.CalibrationDataReader`` over crops."""

    def __init__(self, input_name: str, crops: np.ndarray) -> None:
        self.input_name = input_name
        self._iter: Iterator = iter(crops)

    def get_next(self) -> Optional[dict]:
        crop = next(self._iter, None)
        return None if crop is None else {
            self.input_name: crop[None].astype(np.float32)}


@dataclass
class FloatStep:
    """One round of the float fallback: the tensor below the threshold
    whose producer lost the most SQNR, and the nodes kept in float for it."""

    tensor: str
    sqnr: float
    node: str
    kept_float: List[str]
    output_sqnr_before: float = math.nan
    output_sqnr_after: float = math.nan


@dataclass
class Int8Report:
    """What the ONNX Runtime INT8 export did (``int8_report.json``)."""

    output_sqnr: float
    min_sqnr: Optional[float]
    float_nodes: List[str]
    steps: List[FloatStep]
    total_nodes: int
    worst_tensor: str
    worst_sqnr: float

    def line(self) -> str:
        """One line for logs and tables."""
        floated = (f'{len(self.float_nodes)} of {self.total_nodes} nodes float'
                   if self.float_nodes else f'all {self.total_nodes} nodes int8')
        return (f'{floated}; output SQNR {self.output_sqnr:.1f} dB, lowest '
                f'{self.worst_sqnr:.1f} dB ({self.worst_tensor})')

    def save(self, path: str) -> None:
        with open(path, 'w') as f:
            json.dump(asdict(self), f, indent=1)

    @classmethod
    def load(cls, path: str) -> 'Int8Report':
        with open(path) as f:
            data = json.load(f)
        data['steps'] = [FloatStep(**s) for s in data['steps']]
        return cls(**data)


def head_nodes(onnx_file: str) -> List[str]:
    """Names of the nodes that belong to the head (after the backbone and
    neck)."""
    import onnx
    nodes = onnx.load(onnx_file).graph.node
    if not any(n.name.startswith(BODY_PREFIXES) for n in nodes):
        raise ValueError(f'{onnx_file}: no node named {BODY_PREFIXES}: '
                         'cannot tell the head apart')
    return [n.name for n in nodes if not n.name.startswith(BODY_PREFIXES)]


def sqnr_db(signal: float, noise: float) -> float:
    """``10 log10(signal / noise)`` of energies (ONNX Runtime's
    ``compute_signal_to_quantization_noice_ratio``, summed over crops)."""
    eps = np.finfo(np.float32).eps
    return 10 * math.log10(max(signal, eps) / max(noise, eps))


def activation_sqnr(float_file: str, qdq_file: str,
                    crops: np.ndarray) -> Dict[str, float]:
    """SQNR (dB) of every float-model activation in the QDQ model, as its
    consumers see it (after its ``DequantizeLinear`` where it has one), on
    ``crops``. Tensors the QDQ model no longer has (a ``Relu`` folded into
    its producer) are left out.

    Both models run with graph optimisations off, as
    ``onnxruntime.quantization.qdq_loss_debug.collect_activations`` does:
    the QDQ nodes are computed as written, in float, on every CPU alike.
    """
    import onnx
    float_model, qdq_model = onnx.load(float_file), onnx.load(qdq_file)
    # activations: what depends on the input (not constants, not shapes)
    tensors = [float_model.graph.input[0].name]
    depends = set(tensors)
    for n in float_model.graph.node:
        if n.op_type not in ('Shape', 'Constant') and depends & set(n.input):
            tensors += n.output
            depends |= set(n.output)
    produced = QdqTensors.of(qdq_model).present
    # the value a tensor's consumers get in the QDQ model
    seen: Dict[str, str] = {}
    for name in tensors:
        dq = name + '_DequantizeLinear_Output'
        if dq in produced:
            seen[name] = dq
        elif name in produced:
            seen[name] = name  # float there too, or a graph output after its DQ
    names = [t for t in tensors if t in seen]
    ref = _session(float_model, names)
    qdq = _session(qdq_model, [seen[t] for t in names])
    signal = np.zeros(len(names))
    noise = np.zeros(len(names))
    input_name = float_model.graph.input[0].name
    for crop in crops[:SQNR_CROPS]:
        feed = {input_name: crop[None].astype(np.float32)}
        for k, (x, y) in enumerate(zip(ref.run(None, feed), qdq.run(None, feed))):
            x = x.astype(np.float64)
            signal[k] += np.square(x).sum()
            noise[k] += np.square(x - y).sum()
    return {t: sqnr_db(s, n) for t, s, n in zip(names, signal, noise)}


def _session(model, outputs: Sequence[str]):
    """An ONNX Runtime session (optimisations off) returning ``outputs``."""
    import onnx
    import onnxruntime as ort
    model = onnx.ModelProto.FromString(model.SerializeToString())
    del model.graph.output[:]
    model.graph.output.extend(
        onnx.helper.make_tensor_value_info(o, onnx.TensorProto.FLOAT, None)
        for o in outputs)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), options,
                                providers=['CPUExecutionProvider'])


class _Graph:
    """Producers and consumers of a float ONNX graph's tensors."""

    def __init__(self, onnx_file: str) -> None:
        import onnx
        graph = onnx.load(onnx_file).graph
        self.nodes = list(graph.node)  # topologically sorted (ONNX requires it)
        self.output = graph.output[0].name
        init = {i.name for i in graph.initializer}
        self.producer = {o: n for n in self.nodes for o in n.output}
        self.consumers: Dict[str, list] = {}
        for n in self.nodes:
            for i in n.input:
                if i and i not in init:
                    self.consumers.setdefault(i, []).append(n)
        self.activations = {n.name: [i for i in n.input if i and i not in init]
                            for n in self.nodes}

    def input_sqnr(self, node, sqnr: Dict[str, float]) -> float:
        """The lowest SQNR among a node's activation inputs; an input the
        QDQ model folded away counts with its producer's inputs."""
        values = []
        for t in self.activations[node.name]:
            if t in sqnr:
                values.append(sqnr[t])
            elif t in self.producer:
                values.append(self.input_sqnr(self.producer[t], sqnr))
        return min(values, default=math.inf)

    def float_tensor(self, tensor: str, qdq: 'QdqTensors') -> Set[str]:
        """The nodes to exclude so that ``tensor`` is computed in float from
        unquantized inputs: its producer and every consumer (ONNX Runtime
        rewires all consumers of a quantized tensor to its
        ``DequantizeLinear``), and so on upwards through inputs that the QDQ
        model computes in float (a BatchNorm after a ConvTranspose) or folded
        away (a ``Relu`` whose producer's output takes its range)."""
        nodes = {n.name for n in self.consumers.get(tensor, [])}
        producer = self.producer.get(tensor)
        if producer is None:
            return nodes
        nodes.add(producer.name)
        for t in self.activations[producer.name]:
            folded = producer.op_type in REMOVABLE_ACTIVATIONS and t not in qdq.present
            if folded or (t in qdq.present and t not in qdq.quantized):
                nodes |= self.float_tensor(t, qdq)
        return nodes

    def keep_float(self, node, qdq: 'QdqTensors') -> Set[str]:
        """A node computed in float, on unquantized inputs."""
        nodes = {node.name}
        for t in self.activations[node.name] + list(node.output):
            nodes |= self.float_tensor(t, qdq)
        return nodes


@dataclass
class QdqTensors:
    """Which float-graph tensors a QDQ model has, and which it quantizes."""

    present: Set[str]
    quantized: Set[str]

    @classmethod
    def of(cls, qdq_model) -> 'QdqTensors':
        """Of a QDQ ``onnx.ModelProto`` or its file."""
        import onnx
        graph = (onnx.load(qdq_model) if isinstance(qdq_model, str) else qdq_model).graph
        present = {o for n in graph.node for o in n.output} | {
            i.name for i in graph.input}
        quantized = {n.input[0] for n in graph.node if n.op_type == 'QuantizeLinear'}
        suffix = '_QuantizeLinear_Input'  # a quantized graph output
        quantized = {t[:-len(suffix)] if t.endswith(suffix) else t for t in quantized}
        return cls(present, quantized)


def quantize_onnx_int8(onnx_file: str, work_dir: str, crops: np.ndarray,
                       keep_head_fp32: bool = False,
                       nodes_to_exclude: Sequence[str] = (),
                       name: str = 'end2end_int8.onnx',
                       min_sqnr: Optional[float] = MIN_SQNR_DB,
                       log: Callable[[str], None] = print) -> str:
    """Quantize an fp32 ONNX export to INT8 (QDQ) with calibration crops.

    Args:
        onnx_file (str): a static (batch 1) fp32 export.
        work_dir (str): output directory; the export's ``model_config.py``
            and ``deploy_config.py`` are copied there, so
            ``build_backend(work_dir)`` loads it like any ONNX export, and
            ``int8_report.json`` (:class:`Int8Report`) says what stayed float.
        crops (np.ndarray): (N, 3, H, W) normalised calibration crops.
        keep_head_fp32 (bool): do not quantize the head's nodes.
        nodes_to_exclude: further node names to keep in float.
        name (str): output file name.
        min_sqnr (float, optional): keep nodes in float until every
            activation's SQNR on the calibration crops reaches this (dB);
            None: quantize every node not excluded, whatever it costs (the
            plain recipe).
        log: where the fallback's steps are printed.

    Returns:
        str: the INT8 ``.onnx`` path.
    """
    import onnx
    import onnx.version_converter
    if not osp.isfile(onnx_file):
        raise FileNotFoundError(f'ONNX file not found: {onnx_file}')
    crops = np.asarray(crops, dtype=np.float32)
    if crops.ndim != 4 or len(crops) == 0:
        raise ValueError(f'calibration crops must be (N, 3, H, W) with N > 0, '
                         f'got {crops.shape}')
    os.makedirs(work_dir, exist_ok=True)
    out = osp.join(work_dir, name)
    with tempfile.TemporaryDirectory() as tmp:
        pre = osp.join(tmp, 'pre.onnx')
        model = onnx.load(onnx_file)
        opset = next(o.version for o in model.opset_import
                     if o.domain in ('', 'ai.onnx'))
        if opset < PER_CHANNEL_OPSET:
            # MMDeploy exports opset 11; per-channel QDQ needs the ``axis``
            # of DequantizeLinear, which opset 13 introduced.
            model = onnx.version_converter.convert_version(
                model, PER_CHANNEL_OPSET)
        src = osp.join(tmp, 'opset.onnx')
        onnx.save(model, src)  # quant_pre_process mishandles a ModelProto
        from onnxruntime.quantization import quant_pre_process
        quant_pre_process(src, pre, skip_symbolic_shape=True)
        graph = _Graph(pre)
        exclude = set(nodes_to_exclude)
        if keep_head_fp32:
            exclude |= set(head_nodes(pre))
        steps: List[FloatStep] = []
        _quantize(pre, out, crops, exclude)
        sqnr = activation_sqnr(pre, out, crops)
        best = sqnr[graph.output]
        since_best = 0
        while min_sqnr is not None and len(steps) < MAX_ROUNDS:
            if since_best == STALL_ROUNDS:
                log(f'INT8: the output SQNR has not risen {STALL_GAIN_DB:g} dB in '
                    f'{STALL_ROUNDS} rounds: the error is not where it shows '
                    '(the network amplifies it); stopping here')
                break
            qdq = QdqTensors.of(out)
            step = _worst_below(graph, sqnr, qdq, exclude, min_sqnr)
            if step is None:
                break
            exclude |= set(step.kept_float)
            _quantize(pre, out, crops, exclude)
            step.output_sqnr_before = sqnr[graph.output]
            sqnr = activation_sqnr(pre, out, crops)
            step.output_sqnr_after = sqnr[graph.output]
            steps.append(step)
            if step.output_sqnr_after >= best + STALL_GAIN_DB:
                best, since_best = step.output_sqnr_after, 0
            else:
                since_best += 1
            log(f'INT8: {step.tensor} at {step.sqnr:.1f} dB (below '
                f'{min_sqnr:g}): kept {", ".join(step.kept_float)} in float; '
                f'output SQNR {step.output_sqnr_before:.1f} -> '
                f'{step.output_sqnr_after:.1f} dB')
        worst = min(sqnr, key=sqnr.get)
        report = Int8Report(
            output_sqnr=sqnr[graph.output], min_sqnr=min_sqnr,
            float_nodes=sorted(exclude), steps=steps,
            total_nodes=len(graph.nodes), worst_tensor=worst,
            worst_sqnr=sqnr[worst])
    report.save(osp.join(work_dir, REPORT_NAME))
    log(f'INT8: {report.line()}')
    src = osp.dirname(osp.abspath(onnx_file))
    if osp.abspath(work_dir) != src:
        copy_configs(src, work_dir, [MODEL_CONFIG_NAME, DEPLOY_CONFIG_NAME])
    return out


def _quantize(pre: str, out: str, crops: np.ndarray, exclude: Set[str]) -> None:
    import onnx
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    input_name = onnx.load(pre).graph.input[0].name
    quantize_static(pre, out, _CropReader(input_name, crops),
                    quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8,
                    weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax,
                    nodes_to_exclude=sorted(exclude) or None)


def _worst_below(graph: _Graph, sqnr: Dict[str, float], qdq: QdqTensors,
                 exclude: Set[str], min_sqnr: float) -> Optional[FloatStep]:
    """Among the tensors below ``min_sqnr``, the one whose producer loses
    the most SQNR against its inputs, and the nodes to keep in float for it:
    its producer, with its inputs unquantized. Where those are float
    already, the error came in with an input (a convolution that subtracts
    large terms multiplies its inputs' relative error): follow the input
    with the lowest SQNR upwards. None when nothing is left to do."""
    below = []
    for node in graph.nodes:
        out = node.output[0]
        if sqnr.get(out, math.inf) < min_sqnr:
            drop = graph.input_sqnr(node, sqnr) - sqnr[out]
            below.append((drop, node))
    for _, node in sorted(below, key=lambda d: -d[0]):
        at = node
        while True:
            kept = graph.keep_float(at, qdq) - exclude
            if kept:
                out = node.output[0]
                return FloatStep(out, sqnr[out], at.name, sorted(kept))
            inputs = [t for t in graph.activations[at.name] if t in graph.producer]
            if not inputs:
                break
            lowest = min(inputs, key=lambda t: sqnr.get(t, math.inf))
            at = graph.producer[lowest]
    return None


register(Target('onnxruntime-int8', runner=OrtRunner.name,
                needs=('mmdeploy', 'onnxruntime'), export=export_onnxruntime,
                parity=INT8_PARITY, quantize=quantize_onnx_int8))
