"""A bundle on emulated aarch64 CPUs against the same bundle on this
machine: the same faces in the same files, and on given face boxes the same
landmarks (``tools/arm64_check.py``).

The emulated device is built once by ``tools/install_arm64.sh``: qemu-user,
Debian's arm64 Python and aarch64 wheels of ``requirements/device.txt``.
Emulated timings say nothing about a device's speed, so none are taken.
"""
from __future__ import annotations

import os
import os.path as osp
import subprocess
import sys
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..lite.submission import read_submission

#: What ``/proc/cpuinfo`` says for each emulated CPU: qemu-user shows the
#: guest the host's file, and libraries that read it (LiteRT's CPU
#: detection, OpenBLAS's kernel choice) crash or pick kernels the CPU lacks.
CPUS: Dict[str, Dict[str, str]] = {
    # in-order ARMv8.0 (Raspberry Pi 3, many boards)
    'cortex-a53': dict(part='0xd03', features='fp asimd evtstrm aes pmull sha1 '
                       'sha2 crc32 cpuid'),
    # ARMv8.2 with dot product (Graviton 2, Ampere Altra; Cortex-A76 class)
    'neoverse-n1': dict(part='0xd0c', features='fp asimd evtstrm aes pmull sha1 '
                        'sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc '
                        'dcpop asimddp ssbs'),
    # everything qemu emulates: SVE, SME and newer
    'max': dict(part='0xd0c', features='fp asimd evtstrm aes pmull sha1 sha2 '
                'crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp '
                'ssbs sve sme'),
}
INSTALL_HINT = ('build it once with `bash tools/install_arm64.sh` (root; '
                'Debian or Ubuntu)')


def default_dir() -> str:
    cache = os.environ.get('XDG_CACHE_HOME') or osp.join(osp.expanduser('~'), '.cache')
    return os.environ.get('IVSLAB_ARM64_DIR') or osp.join(cache, 'ivslab-plugin', 'arm64')


@dataclass
class Arm64Device:
    """The emulated device: ``qemu/qemu-aarch64``, the arm64 ``root/`` and
    the unpacked wheels in ``site/`` under ``folder``."""

    folder: str

    @classmethod
    def find(cls, folder: Optional[str] = None) -> 'Arm64Device':
        """The device in ``folder`` (the cache by default).

        Raises:
            FileNotFoundError: saying what is missing and how to build it.
        """
        device = cls(folder or default_dir())
        for path in (device.qemu, device.python, device.site):
            if not osp.exists(path):
                raise FileNotFoundError(f'{path}: the emulated arm64 device is '
                                        f'not built: {INSTALL_HINT}')
        return device

    @property
    def qemu(self) -> str:
        return osp.join(self.folder, 'qemu', 'qemu-aarch64')

    @property
    def root(self) -> str:
        return osp.join(self.folder, 'root')

    @property
    def python(self) -> str:
        return osp.join(self.root, 'usr', 'bin', 'python3.11')

    @property
    def site(self) -> str:
        return osp.join(self.folder, 'site')

    def run(self, cpu: str, args: Sequence[str],
            timeout: float = 600) -> subprocess.CompletedProcess:
        """Run the arm64 Python with ``args`` on an emulated ``cpu``."""
        if cpu not in CPUS:
            raise ValueError(f'cpu must be one of {sorted(CPUS)}, got {cpu!r}')
        # qemu opens the -L root's files first: the guest reads this cpuinfo
        proc = osp.join(self.root, 'proc')
        os.makedirs(proc, exist_ok=True)
        with open(osp.join(proc, 'cpuinfo'), 'w', encoding='utf-8') as f:
            f.write(f'processor\t: 0\nBogoMIPS\t: 50.00\nFeatures\t: '
                    f'{CPUS[cpu]["features"]}\nCPU implementer\t: 0x41\n'
                    f'CPU architecture: 8\nCPU variant\t: 0x0\nCPU part\t: '
                    f'{CPUS[cpu]["part"]}\nCPU revision\t: 1\n\n')
        # one core, as the cpuinfo says (ONNX Runtime asserts they agree)
        cpu_dir = osp.join(self.root, 'sys', 'devices', 'system', 'cpu')
        os.makedirs(cpu_dir, exist_ok=True)
        for name in ('possible', 'present'):
            with open(osp.join(cpu_dir, name), 'w', encoding='utf-8') as f:
                f.write('0\n')
        env = dict(os.environ, PYTHONPATH=self.site)
        return subprocess.run([self.qemu, '-cpu', cpu, '-L', self.root, self.python,
                               *args], capture_output=True, text=True,
                              timeout=timeout, env=env)


@dataclass
class Comparison:
    """One emulated run against this machine's: ``files`` compared, ``faces``
    compared, files whose face count differs, and the largest landmark
    difference (px) over the faces compared."""

    cpu: str
    boxes: str
    files: int = 0
    faces: int = 0
    count_differs: List[str] = field(default_factory=list)
    max_px: float = 0.0
    error: str = ''

    def ok(self, tol_px: Optional[float]) -> bool:
        return not self.error and not self.count_differs and (
            tol_px is None or self.max_px <= tol_px)


def compare_outputs(reference: str, other: str, cpu: str = '',
                    boxes: str = '') -> Comparison:
    """Compare two folders of submission files, file by file."""
    result = Comparison(cpu, boxes)
    for name in sorted(os.listdir(reference)):
        if not name.endswith('.txt'):
            continue
        path = osp.join(other, name)
        if not osp.isfile(path):
            result.count_differs.append(f'{name}: missing')
            continue
        want, got = read_submission(osp.join(reference, name)), read_submission(path)
        result.files += 1
        if len(want) != len(got):
            result.count_differs.append(f'{name}: {len(want)} vs {len(got)} faces')
            continue
        for w, g in zip(want, got):
            result.faces += 1
            result.max_px = max(result.max_px, float(np.abs(w - g).max()))
    return result


def check_bundle(bundle: str, image_list: str, out_dir: str,
                 cpus: Sequence[str] = tuple(CPUS), boxes_tsv: Optional[str] = None,
                 device: Optional[Arm64Device] = None,
                 detector: Optional[str] = None) -> List[Comparison]:
    """Run ``bundle/run_model.py IMAGE_LIST OUT`` here and on each emulated
    CPU, with the bundle's detector and, with ``boxes_tsv``, on its boxes;
    compare each run with this machine's."""
    device = device or Arm64Device.find()
    script = osp.join(bundle, 'run_model.py')
    extra = ['--detector', detector] if detector else []
    modes = {'detector': extra}
    if boxes_tsv:
        modes['given boxes'] = ['--boxes', boxes_tsv]
    results = []
    for mode, args in modes.items():
        slug = mode.replace(' ', '_')
        ref = osp.join(out_dir, f'x86_{slug}')
        proc = subprocess.run([sys.executable, script, image_list, ref, *args],
                              capture_output=True, text=True, timeout=600)
        if proc.returncode not in (0, 1):  # 1: some image failed, reported per file
            raise RuntimeError(f'{script} failed here ({proc.returncode}): {proc.stderr}')
        for cpu in cpus:
            out = osp.join(out_dir, f'{cpu}_{slug}')
            run = device.run(cpu, [script, image_list, out, *args])
            if run.returncode not in (0, 1) or not osp.isdir(out):
                results.append(Comparison(cpu, mode, error=(
                    f'exit {run.returncode}: {run.stderr.strip()[-300:]}')))
                continue
            results.append(compare_outputs(ref, out, cpu, mode))
    return results
