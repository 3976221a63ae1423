"""Landmarks drawn on images, a folder of images or a video (tracked or
not), with ``results.json``."""
from __future__ import annotations

import json
import os
import os.path as osp
from typing import Callable, Dict, List, Sequence

import cv2
import numpy as np

from .face import IMAGE_EXTS, VIDEO_EXTS, Face, draw, read_image, video_frames

Drawer = Callable[[np.ndarray, Sequence[Face]], np.ndarray]


def demo_inputs(source: str) -> List[str]:
    """The images of a folder, or the image or video ``source`` itself.

    Raises:
        FileNotFoundError / ValueError: with the reason.
    """
    if osp.isdir(source):
        images = sorted(osp.join(source, n) for n in os.listdir(source)
                        if n.lower().endswith(IMAGE_EXTS))
        if not images:
            raise ValueError(f'no images ({", ".join(IMAGE_EXTS)}) in {source}')
        return images
    if not osp.isfile(source):
        raise FileNotFoundError(f'input not found: {source}')
    if not source.lower().endswith(IMAGE_EXTS + VIDEO_EXTS):
        raise ValueError(f'{source}: not an image ({", ".join(IMAGE_EXTS)}), '
                         f'a folder or a video ({", ".join(VIDEO_EXTS)})')
    return [source]


def run_demo(landmarker, source: str, out_dir: str, track: bool = False,
             smooth: bool = False, drawer: Drawer = draw,
             log: Callable[[str], None] = print) -> Dict:
    """Draw the landmarks of an image, a folder of images or a video
    (tracked with ``track``, One-Euro smoothed with ``smooth``).

    Writes the drawn images (``<stem>.png``) or ``<stem>.mp4``, and
    ``results.json``: ``{name: [face, ...]}`` for images, ``{name: [[face,
    ...] per frame]}`` for a video, each face as :meth:`Face.to_dict`.

    Returns:
        dict: the JSON content.
    """
    paths = demo_inputs(source)
    os.makedirs(out_dir, exist_ok=True)
    results: Dict = {}
    if not source.lower().endswith(VIDEO_EXTS):
        for path in paths:
            try:
                image = read_image(path)
            except (FileNotFoundError, ValueError) as err:
                log(f'error: {err}')
                continue
            faces = landmarker(image)
            if not faces:
                log(f'no face found in {path} ({image.shape[1]}x'
                    f'{image.shape[0]}); writing it undrawn')
            name = osp.splitext(osp.basename(path))[0]
            cv2.imwrite(osp.join(out_dir, name + '.png'), drawer(image, faces))
            results[osp.basename(path)] = [f.to_dict() for f in faces]
            log(f'{path}: {len(faces)} face(s)')
    else:
        name = osp.splitext(osp.basename(source))[0]
        writer, frames, tracker = None, [], None
        for frame, fps in video_frames(source):
            if tracker is None and track:
                tracker = landmarker.tracker(fps, smooth)
            faces = tracker(frame) if tracker else landmarker(frame)
            if writer is None:
                writer = cv2.VideoWriter(osp.join(out_dir, name + '.mp4'),
                                         cv2.VideoWriter_fourcc(*'mp4v'), fps,
                                         frame.shape[1::-1])
            writer.write(drawer(frame, faces))
            frames.append([f.to_dict() for f in faces])
        if writer is None:
            raise ValueError(f'{source}: the video has no readable frames')
        writer.release()
        results[osp.basename(source)] = frames
        calls = tracker.stats.detector_calls if tracker else len(frames)
        log(f'{source}: {len(frames)} frames, {calls} detector calls')
    with open(osp.join(out_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=1)
    log(f'wrote {out_dir}')
    return results
