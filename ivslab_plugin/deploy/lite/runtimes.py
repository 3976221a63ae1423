"""Raw network runners: normalised crops (B, 3, H, W) in, outputs out.

One class per runtime, and that class is the runtime's whole entry on the
device: its name, model-file suffix, Python module and pip package. A
subclass of :class:`RuntimeRunner` registers itself in :data:`RUNNERS`, so a
new runtime is one class here (and one converter in ``deploy/convert/``).
Each imports its package only when a model is opened, so a device needs
only the runtime its bundle uses.
"""
from __future__ import annotations

import importlib
import os
import os.path as osp
from typing import Callable, ClassVar, Dict, List, Type

import numpy as np

from .errors import BundleError

Runner = Callable[[np.ndarray], List[np.ndarray]]


class RuntimeRunner:
    """Base of the runner classes; a subclass names its runtime."""

    #: the runtime's name in specs and on the command line
    name: ClassVar[str]
    #: the model file's suffix (the file a bundle's spec names)
    suffix: ClassVar[str]
    #: the module to import, and the pip package that provides it
    module: ClassVar[str]
    package: ClassVar[str]

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        RUNNERS[cls.name] = cls

    @classmethod
    def files(cls, path: str) -> List[str]:
        """Every file the model at ``path`` needs at run time."""
        return [path]

    def __call__(self, inputs: np.ndarray) -> List[np.ndarray]:
        raise NotImplementedError


#: Every runtime's runner class, by name.
RUNNERS: Dict[str, Type[RuntimeRunner]] = {}


def runner_class(path: str) -> Type[RuntimeRunner]:
    """The runner class of a model file, by its suffix."""
    for cls in RUNNERS.values():
        if path.endswith(cls.suffix):
            return cls
    raise BundleError(f'{path}: cannot tell the runtime (expected '
                      f'{", ".join(c.suffix for c in RUNNERS.values())})')


def model_files_in(folder: str) -> List[str]:
    """The model files of any runtime directly in ``folder`` (sorted)."""
    return sorted(f for f in (os.listdir(folder) if osp.isdir(folder) else [])
                  for cls in RUNNERS.values() if f.endswith(cls.suffix)
                  for f in [osp.join(folder, f)])


def runtime_of(path: str) -> str:
    """The runtime of a model file, by its name."""
    return runner_class(path).name


def import_runtime(runtime: str, path: str = ''):
    """The runtime's module, or a :class:`BundleError` saying what to
    install."""
    cls = RUNNERS[runtime]
    try:
        return importlib.import_module(cls.module)
    except ImportError as err:
        raise BundleError(
            f'{path or runtime}: the {runtime} runtime is not installed '
            f'(pip install {cls.package})') from err


def _check_file(path: str) -> None:
    if not osp.isfile(path):
        raise BundleError(f'{path}: model file not found')
    if osp.getsize(path) == 0:
        raise BundleError(f'{path}: model file is empty')


class OrtRunner(RuntimeRunner):
    """An ONNX model in ONNX Runtime on the CPU, fixed thread count."""

    name, suffix = 'onnxruntime', '.onnx'
    module = package = 'onnxruntime'

    def __init__(self, path: str, num_threads: int = 1) -> None:
        ort = import_runtime('onnxruntime', path)
        _check_file(path)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = num_threads
        opts.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(
                path, opts, providers=['CPUExecutionProvider'])
        except Exception as err:  # onnxruntime raises its own error types
            raise BundleError(f'{path}: not a valid ONNX model ({err})') \
                from err
        self.input_name = self.session.get_inputs()[0].name

    def __call__(self, inputs: np.ndarray) -> List[np.ndarray]:
        # static exports take batch 1: run crop by crop
        outs = [self.session.run(None, {self.input_name: x[None]})
                for x in np.asarray(inputs, np.float32)]
        return [np.concatenate(parts) for parts in zip(*outs)]


class NcnnRunner(RuntimeRunner):
    """An ncnn network (CPU, no Vulkan), fp32 throughout: ncnn's default
    fp16 storage and arithmetic on ARM are switched off so results match
    PyTorch everywhere."""

    name, suffix = 'ncnn', '.ncnn.param'
    module = package = 'ncnn'
    weights_suffix = '.ncnn.bin'

    @classmethod
    def files(cls, path: str) -> List[str]:
        return [path, path[:-len(cls.suffix)] + cls.weights_suffix]

    def __init__(self, param: str, num_threads: int = 1) -> None:
        ncnn = import_runtime('ncnn', param)
        weights = self.files(param)[1] if param.endswith(self.suffix) \
            else osp.splitext(param)[0] + '.bin'
        for path in (param, weights):
            _check_file(path)
        self.net = ncnn.Net()
        opt = self.net.opt
        opt.num_threads = num_threads
        opt.use_vulkan_compute = False
        opt.use_fp16_packed = opt.use_fp16_storage = False
        opt.use_fp16_arithmetic = False
        if self.net.load_param(param) != 0:
            raise BundleError(f'{param}: not a valid ncnn param file')
        if self.net.load_model(weights) != 0:
            raise BundleError(f'{weights}: not a valid ncnn weight file for '
                              f'{param}')
        self.input_names = list(self.net.input_names())
        self.output_names = list(self.net.output_names())
        self._mat = ncnn.Mat

    def __call__(self, inputs: np.ndarray) -> List[np.ndarray]:
        outs = []
        for crop in np.ascontiguousarray(inputs, dtype=np.float32):
            ex = self.net.create_extractor()
            ex.input(self.input_names[0], self._mat(crop))
            one = []
            for name in self.output_names:
                ret, mat = ex.extract(name)
                if ret != 0:
                    raise RuntimeError(f'ncnn failed to compute {name} ({ret})')
                one.append(np.array(mat)[None])
            outs.append(one)
        return [np.concatenate(parts) for parts in zip(*outs)]


class TFLiteRunner(RuntimeRunner):
    """A ``.tflite`` model in LiteRT's interpreter (CPU, XNNPACK by
    default, as on a phone's CPU). A fully quantized model's int8 input and
    outputs are converted with their scale and zero point."""

    name, suffix = 'tflite', '.tflite'
    module, package = 'ai_edge_litert.interpreter', 'ai-edge-litert'

    def __init__(self, path: str, num_threads: int = 1) -> None:
        interpreter = import_runtime('tflite', path)
        _check_file(path)
        try:
            self.interpreter = interpreter.Interpreter(
                model_path=path, num_threads=num_threads)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as err:
            raise BundleError(f'{path}: not a valid TFLite model ({err})') \
                from err
        self.input = self.interpreter.get_input_details()[0]
        #: an integer input's details: :class:`~.landmarks.LandmarkModel`
        #: then quantizes its crops itself
        self.input_detail = self.input \
            if np.dtype(self.input['dtype']).kind != 'f' else None
        # litert-torch names outputs output_0, output_1, ... in the module's
        # order; sort by name so a SimCC pair keeps (x, y) order.
        self.outputs = sorted(self.interpreter.get_output_details(),
                              key=lambda d: d['name'])

    def __call__(self, inputs: np.ndarray) -> List[np.ndarray]:
        outs = []
        for crop in np.asarray(inputs):
            self.interpreter.set_tensor(self.input['index'],
                                        quantize(crop[None], self.input))
            self.interpreter.invoke()
            outs.append([
                dequantize(self.interpreter.get_tensor(d['index']), d)
                for d in self.outputs
            ])
        return [np.concatenate(parts) for parts in zip(*outs)]


def quantize(x: np.ndarray, detail: dict) -> np.ndarray:
    """Float input to a LiteRT tensor's type (int8 with its scale and zero
    point for a fully quantized model); input of that type already is
    passed through."""
    dtype = np.dtype(detail['dtype'])
    if dtype.kind == 'f' or x.dtype == dtype:
        return x.astype(dtype, copy=False)
    scale, zero = detail['quantization']
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale) + zero, info.min, info.max).astype(dtype)


def dequantize(q: np.ndarray, detail: dict) -> np.ndarray:
    """A LiteRT output tensor as float32."""
    if np.dtype(detail['dtype']).kind == 'f':
        return q.astype(np.float32)
    scale, zero = detail['quantization']
    return ((q.astype(np.float32) - zero) * scale).astype(np.float32)


def open_runner(path: str, num_threads: int = 1) -> Runner:
    """The runner of a model file, chosen by its name."""
    return runner_class(path)(path, num_threads)
