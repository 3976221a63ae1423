"""What a runtime is to the exporter: one :class:`Target` per ``--runtime``.

A converter module of this package describes each runtime it writes with a
:class:`Target` and calls :func:`register`; :mod:`.registry` imports every
module here, so a new runtime is one converter file (and one runner class in
``deploy/lite/runtimes.py``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Tuple


@dataclass(frozen=True)
class Parity:
    """How close an export must stay to PyTorch (``verify.parity``).

    ``raw``: the largest raw-output difference, absolute or (``relative``)
    as a share of the largest |output|; ``px``: the keypoint difference in
    image pixels, of the max or (``gate='median'``) of the median.
    """

    raw: float
    relative: bool
    px: float
    gate: str = 'max'


#: fp32 runtimes are held to the ONNX Runtime fp32 bounds (measured on the
#: trained student: ncnn 1.3e-6, LiteRT 7e-7 max raw difference).
FP32_PARITY = Parity(1e-3, False, 0.05, 'max')
#: INT8 rounds every activation to 1/255 of its calibrated range, so raw
#: outputs are compared relative to the largest |output| and keypoints on
#: the median: where a heatmap's two best cells are nearly equal the
#: rounding can pick the other one (student, 104 real faces: TFLite INT8 max
#: 11.9 px, ONNX Runtime INT8 5.9 px, medians 0.04 px). What decides an INT8
#: export is its NME against fp32 on held-out faces
#: (``verify.accuracy.check_int8``); the max and p99 are printed.
INT8_PARITY = Parity(0.25, True, 2.0, 'median')


@dataclass(frozen=True)
class Target:
    """One runtime an export can write.

    Args:
        name: the ``--runtime`` value.
        runner: the name of the ``lite.runtimes`` runner that runs the file.
        needs: modules needed to convert and run (checked before exporting).
        export: ``(DeployModel, checkpoint, work_dir) -> model file``.
        parity: the tolerance against PyTorch.
        quantize: for INT8 targets, ``(fp32 file, work_dir, crops,
            keep_head_fp32) -> model file``; :func:`export` then writes the
            float model to ``work_dir/fp32`` first.
    """

    name: str
    runner: str
    needs: Tuple[str, ...]
    export: Callable[..., str]
    parity: Parity
    quantize: Optional[Callable[..., str]] = None

    @property
    def int8(self) -> bool:
        return self.quantize is not None


#: Every target, by name (filled by the converter modules).
TARGETS: Dict[str, Target] = {}


def register(target: Target) -> Any:
    """Add a target (a name registered twice is a mistake)."""
    if target.name in TARGETS:
        raise KeyError(f'runtime {target.name!r} registered twice')
    TARGETS[target.name] = target
    return target
