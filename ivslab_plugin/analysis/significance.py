"""Is one model better than another on these faces, or is it noise?

Comparisons of landmark models rest on their per-face errors on the same
test faces. A percentile bootstrap resamples the faces (the same faces for
every model: the comparison is paired) and gives a 95 % interval for each
figure the reports print: the mean difference, a relative difference (the
teacher is Y % better) and the share of the teacher-student gap that
distillation closes. A figure counts as a result only when its interval
excludes zero. Several seeds enter as one more axis: each resample averages
the seeds' errors on the resampled faces, and the seeds' own spread is
printed beside it.

Faces from one video or one person are not independent, so on such test
sets the interval is narrower than the truth; it never makes noise look
wider than it is.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, Dict, List, Sequence

import numpy as np

#: Resamples of the bootstrap and the interval's coverage.
N_BOOT = 4000
LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """A figure on all faces (``value``) and its bootstrap interval."""

    value: float
    low: float
    high: float

    @property
    def significant(self) -> bool:
        """The interval excludes zero."""
        return self.low > 0 or self.high < 0

    def percent(self) -> str:
        return f'{self.value:+.1%} (95 % interval {self.low:+.1%} to {self.high:+.1%})'

    def plain(self, digits: int = 4) -> str:
        return (f'{self.value:+.{digits}f} (95 % interval {self.low:+.{digits}f} to '
                f'{self.high:+.{digits}f})')


def as_errors(errors: np.ndarray) -> np.ndarray:
    """Per-face errors as (seeds, faces) float64; a 1-D array is one seed."""
    errors = np.asarray(errors, dtype=np.float64)
    if errors.ndim == 1:
        errors = errors[None]
    if errors.ndim != 2 or errors.shape[1] < 2:
        raise ValueError(f'expected per-face errors (faces,) or (seeds, faces) with at '
                         f'least 2 faces, got shape {errors.shape}')
    return errors


def bootstrap(statistic: Callable[..., np.ndarray], models: Sequence[np.ndarray],
              n_boot: int = N_BOOT, level: float = LEVEL, seed: int = 0) -> Interval:
    """The percentile interval of ``statistic(*mean_errors)``, where each
    model's mean error is taken over its seeds and a resample of the faces
    (the same resample for every model).

    Args:
        statistic: vectorised over the leading axis: each argument is an
            array of mean errors, one per resample.
        models: per-face errors, (faces,) or (seeds, faces), one per model,
            on the same faces in the same order.
    """
    arrays = [as_errors(m) for m in models]
    faces = {a.shape[1] for a in arrays}
    if len(faces) != 1:
        raise ValueError(f'the models were measured on different numbers of faces: {faces}')
    n = faces.pop()
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    resampled = [a.mean(0)[idx].mean(1) for a in arrays]
    tail = 100 * (1 - level) / 2
    with np.errstate(divide='ignore', invalid='ignore'):
        values = np.asarray(statistic(*resampled), dtype=np.float64)
        value = float(statistic(*[np.array([a.mean()]) for a in arrays])[0])
        # a ratio whose denominator crosses zero is unbounded there: +-inf
        # sorts to the ends, nan (0 / 0) is left out
        low, high = np.nanpercentile(values, [tail, 100 - tail])
    return Interval(value, float(low), float(high))


def mean_difference(a: np.ndarray, b: np.ndarray, **kw) -> Interval:
    """mean(a) - mean(b): negative when ``a`` has the lower error."""
    return bootstrap(lambda x, y: x - y, [a, b], **kw)


def relative_difference(a: np.ndarray, b: np.ndarray, **kw) -> Interval:
    """mean(a) / mean(b) - 1: -0.2 when ``a``'s error is 20 % lower."""
    return bootstrap(lambda x, y: x / y - 1, [a, b], **kw)


def gap_closed(teacher: np.ndarray, student: np.ndarray, distilled: np.ndarray,
               **kw) -> Interval:
    """(student - distilled) / (student - teacher): the share of the gap
    between the student alone and the teacher that distillation closes."""
    return bootstrap(lambda t, s, d: (s - d) / (s - t), [teacher, student, distilled], **kw)


def seed_spread(errors: np.ndarray) -> float:
    """The standard deviation of the seeds' mean errors (0 for one seed)."""
    means = as_errors(errors).mean(1)
    return float(means.std(ddof=1)) if len(means) > 1 else 0.0


def read_face_errors(paths: Sequence[str], mode: str = 'pupil') -> np.ndarray:
    """(seeds, faces) NME from the ``*_faces.json`` files ``tools/test.py
    --out`` writes, one file per seed, checked to list the same faces."""
    rows: List[np.ndarray] = []
    faces = None
    for path in paths:
        with open(path) as f:
            records = json.load(f)['faces']
        names = [r['img_path'] for r in records]
        if faces is not None and names != faces:
            raise ValueError(f'{path}: other test faces than {paths[0]}')
        faces = names
        rows.append(np.array([r[f'NME_{mode}'] for r in records]))
    return np.stack(rows)


@dataclass(frozen=True)
class Verdicts:
    """The two questions a distillation run answers, each with its interval."""

    teacher_margin: Interval
    kd_gain: Interval
    gap_closed: Interval

    def lines(self) -> List[str]:
        t, g, c = self.teacher_margin, self.kd_gain, self.gap_closed
        out = []
        if t.significant and t.value < 0:
            out.append(f'the teacher is better than the student alone: NME_pupil '
                       f'{t.percent()}')
        else:
            out.append(f'teacher vs student alone: within noise, NME_pupil {t.percent()}')
        if c.significant and c.value > 0:
            out.append(f'distillation closed {c.value:.0%} of the gap: {c.percent()}; '
                       f'NME_pupil {g.percent()} against the student alone')
        elif g.significant and g.value < 0:
            out.append(f'distillation helped: NME_pupil {g.percent()} against the student '
                       f'alone; the share of the gap it closed is within noise, {c.percent()}')
        elif g.significant:
            out.append(f'distillation hurt: NME_pupil {g.percent()} against the student '
                       'alone')
        else:
            out.append(f'distilled vs student alone: within noise, NME_pupil {g.percent()}; '
                       f'gap closed {c.percent()}')
        return out


def distillation_verdicts(errors: Dict[str, np.ndarray], distilled: str = 'student_kd',
                          **kw) -> Verdicts:
    """Verdicts from per-face errors of ``teacher``, ``student`` and a
    distilled student (each (faces,) or (seeds, faces))."""
    return Verdicts(relative_difference(errors['teacher'], errors['student'], **kw),
                    relative_difference(errors[distilled], errors['student'], **kw),
                    gap_closed(errors['teacher'], errors['student'], errors[distilled], **kw))
