"""An export and its checks, as ``tools/deploy.py`` (MMDeploy: ONNX Runtime,
the SDK) and ``tools/deploy_embedded.py`` (any runtime of
``convert.registry``) run them: export, write the bundle, then hold the
result against PyTorch. Each returns the exit code: 1 when a check fails."""
from __future__ import annotations

import os
import os.path as osp
import time
from dataclasses import dataclass
from typing import List, Optional

from .configs import deploy_config_path, load_cfg
from .verify.parity import Sample, synthetic_samples, tsv_samples


@dataclass
class ParityFaces:
    """The faces a parity check runs on: ``num_faces`` of an annotation
    TSV (``tsv``, images under ``image_root``), else synthetic faces."""

    tsv: Optional[str] = None
    image_root: Optional[str] = None
    num_faces: int = 8

    def samples(self) -> List[Sample]:
        if self.tsv:
            return tsv_samples(self.tsv, self.image_root, self.num_faces)
        return synthetic_samples(max(1, self.num_faces // 2))


def export_mmdeploy(config: str, checkpoint: str, work_dir: str,
                    deploy_config: Optional[str] = None, precision: str = 'fp32',
                    dynamic: bool = False, sdk: bool = False, device: str = 'cpu',
                    faces: Optional[ParityFaces] = None,
                    raw_tol: Optional[float] = None, px_tol: Optional[float] = None,
                    sdk_px_tol: Optional[float] = None) -> int:
    """MMDeploy's export (and the SDK files with ``sdk``), a bundle for a
    static fp32 model, then parity with PyTorch unless ``faces`` is None.

    Tolerances default to :data:`~.verify.parity.TOLERANCES` of the deploy
    config's precision; the SDK and fp16 are gated on the 99th percentile.
    """
    from .convert.bundle import write_bundle
    from .convert.mmdeploy import export_model
    from .infer.backends import TorchBackend, build_backend
    from .verify.parity import P99_MAX_PX_BOUND, SDK_P99_PX_TOL, TOLERANCES, check_parity

    model_cfg = load_cfg(config)
    deploy_path = deploy_config or deploy_config_path(model_cfg, precision, dynamic, sdk)
    deploy_cfg = load_cfg(deploy_path)
    start = time.perf_counter()
    result = export_model(model_cfg, checkpoint, work_dir, deploy_cfg, device,
                          dump_info=True if sdk else None)
    print(f'exported with {deploy_path} in '
          f'{time.perf_counter() - start:.1f} s:')
    for path in result.backend_files:
        print(f'  {path} ({os.path.getsize(path) / 2**20:.2f} MiB)')
    if result.sdk_dir:
        print(f'  SDK directory: {result.sdk_dir}')
    for note in result.notes:
        print(f'  note: {note}')
    precision = deploy_cfg.backend_config.get('precision', 'fp32')
    if precision == 'fp32' and not deploy_cfg.onnx_config.get('dynamic_axes'):
        print(f'  device bundle: {write_bundle(model_cfg, result.backend_files[0])}'
              '/run_model.py')
    if faces is None:
        return 0
    raw_tol = raw_tol if raw_tol is not None else TOLERANCES[precision][0]
    px_tol = px_tol if px_tol is not None else TOLERANCES[precision][1]
    samples = faces.samples()
    reference = TorchBackend(model_cfg, checkpoint, device, flip_test=False)
    backends = [build_backend(result.backend_files[0], device=device)]
    if result.sdk_dir:
        backends.append(build_backend(result.sdk_dir, device=device, sdk=True))
    ok = True
    for backend in backends:
        is_sdk = backend.name == 'sdk'
        report = check_parity(reference, backend, samples, raw_tol,
                              (sdk_px_tol or SDK_P99_PX_TOL) if is_sdk else px_tol,
                              gate_on_p99=is_sdk or precision == 'fp16',
                              max_bound=P99_MAX_PX_BOUND,
                              raw_relative=precision == 'fp16')
        print('\n'.join(report.lines()))
        ok &= report.passed
    return 0 if ok else 1


def export_embedded(config: str, checkpoint: str, runtime: str, work_dir: str,
                    data_root: Optional[str] = None, num_calib: int = 128,
                    keep_head_fp32: bool = False, int8_limit: Optional[float] = None,
                    int8_faces: Optional[int] = None,
                    faces: Optional[ParityFaces] = None) -> int:
    """Export to one runtime with its bundle; an INT8 export is then held
    to its fp32 model's accuracy (``verify.accuracy.check_int8``), and,
    unless ``faces`` is None, the export to PyTorch (the runtime's own
    tolerance) and the bundle to the full stack."""
    from .convert.registry import export_runtime, make_runner, model_files, target
    from .data import calibration_crops
    from .infer.backends import TorchBackend, build_backend
    from .lite.runtimes import model_files_in
    from .verify.accuracy import INT8_LIMIT, check_int8
    from .verify.parity import check_bundle_parity, check_runtime_parity

    model_cfg = load_cfg(config)
    int8 = target(runtime).int8
    crops = None
    if int8:
        crops = calibration_crops(model_cfg, data_root, num_calib)
        print(f'calibrating on {len(crops)} training faces')
    start = time.perf_counter()
    path = export_runtime(runtime, model_cfg, checkpoint, work_dir, crops, keep_head_fp32)
    print(f'exported {runtime} in {time.perf_counter() - start:.1f} s:')
    for f in model_files(path):
        print(f'  {f} ({os.path.getsize(f) / 1e6:.3f} MB)')
    print(f'  device bundle: {osp.join(work_dir, "run_model.py")}')
    ok = True
    if int8:
        fp32 = model_files_in(osp.join(work_dir, 'fp32'))[0]
        check = check_int8(make_runner(fp32), make_runner(path), model_cfg, data_root,
                           INT8_LIMIT if int8_limit is None else int8_limit,
                           max_faces=int8_faces)
        print(check.line())
        ok = check.passed
    if faces is None:
        return 0 if ok else 1
    samples = faces.samples()
    reference = TorchBackend(model_cfg, checkpoint, flip_test=False)
    backend = build_backend(work_dir)
    report = check_runtime_parity(reference, backend, samples, runtime)
    print('\n'.join(report.lines()))
    bundle = check_bundle_parity(backend, work_dir, samples)
    print('\n'.join(bundle.lines()))
    return 0 if ok and report.passed and bundle.passed else 1
