"""A markdown report with plots from MMEngine work dirs and test outputs."""
from __future__ import annotations

import glob
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np


def read_scalars(work_dir: str) -> Tuple[List[dict], List[dict]]:
    """Training and validation rows of the newest run in an MMEngine
    work dir (``<timestamp>/vis_data/scalars.json``)."""
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                      'scalars.json')))
    if not files:
        raise FileNotFoundError(f'no */vis_data/scalars.json in {work_dir}')
    train, val = [], []
    with open(files[-1]) as f:
        for line in f:
            row = json.loads(line)
            (train if 'loss' in row else val).append(row)
    return train, val


def _pyplot():
    import matplotlib
    matplotlib.use('Agg')  # no display: write files only
    import matplotlib.pyplot as plt
    return plt


def plot_training(runs: Dict[str, str], out_png: str,
                  metric: str = 'NME_pupil') -> str:
    """Loss per iteration and validation ``metric`` per epoch, per run."""
    plt = _pyplot()
    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(11, 4))
    for name, work_dir in runs.items():
        train, val = read_scalars(work_dir)
        ax_loss.plot([r['step'] for r in train], [r['loss'] for r in train],
                     label=name)
        rows = [r for r in val if metric in r]
        ax_val.plot([r['step'] for r in rows], [r[metric] for r in rows],
                    marker='o', label=name)
    ax_loss.set(xlabel='iteration', ylabel='training loss', yscale='log')
    ax_val.set(xlabel='epoch', ylabel=f'validation {metric}')
    for ax in (ax_loss, ax_val):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return out_png


def plot_ced(per_face: Dict[str, str], out_png: str, mode: str = 'pupil',
             threshold: float = 0.1) -> str:
    """Cumulative error distribution of each model's per-face errors (the
    ``*_faces.json`` files ``tools/test.py --out`` writes)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 4))
    grid = np.linspace(0, threshold * 2, 400)
    for name, path in per_face.items():
        with open(path) as f:
            errors = np.array([r[f'NME_{mode}'] for r in json.load(f)['faces']])
        ax.plot(grid, (errors[None] <= grid[:, None]).mean(axis=1),
                label=f'{name} (AUC@{threshold:.2f} '
                f'{np.clip(1 - errors / threshold, 0, None).mean():.3f})')
    ax.axvline(threshold, color='grey', linestyle=':')
    ax.set(xlabel=f'NME ({mode})', ylabel='fraction of faces', ylim=(0, 1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_png, dpi=100)
    plt.close(fig)
    return out_png


def montage(images: Sequence[str], out_png: str, cols: int = 4,
            tile: int = 256) -> str:
    """Tile images (letterboxed to ``tile`` px squares) into one PNG."""
    import cv2
    tiles = []
    for path in images:
        img = cv2.imread(path)
        if img is None:
            raise FileNotFoundError(f'cannot read {path}')
        scale = tile / max(img.shape[:2])
        img = cv2.resize(img, None, fx=scale, fy=scale)
        canvas = np.zeros((tile, tile, 3), np.uint8)
        canvas[:img.shape[0], :img.shape[1]] = img
        tiles.append(canvas)
    while len(tiles) % cols:
        tiles.append(np.zeros((tile, tile, 3), np.uint8))
    rows = [np.hstack(tiles[i:i + cols]) for i in range(0, len(tiles), cols)]
    cv2.imwrite(out_png, np.vstack(rows))
    return out_png


def markdown_table(rows: Sequence[dict], columns: Sequence[str],
                   formats: Optional[Dict[str, str]] = None) -> str:
    """A markdown table of ``rows`` (missing values shown as ``-``)."""
    formats = formats or {}
    lines = ['| ' + ' | '.join(columns) + ' |',
             '|' + '---|' * len(columns)]
    for row in rows:
        cells = []
        for col in columns:
            value = row.get(col)
            if value is None:
                cells.append('-')
            elif isinstance(value, float):
                cells.append(format(value, formats.get(col, '.4f')))
            else:
                cells.append(str(value))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def write_markdown(path: str, title: str,
                   sections: Sequence[Tuple[str, str]]) -> str:
    """Write ``# title`` and ``## heading`` + body for each section; image
    paths in bodies are made relative to the report's folder."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    parts = [f'# {title}', '']
    for heading, body in sections:
        parts += [f'## {heading}', '', body, '']
    with open(path, 'w') as f:
        f.write('\n'.join(parts))
    return path
