"""A batch sampler that gives every batch a fixed share of each source of a
``ConcatDataset`` (labelled faces + unlabelled faces for distillation)."""
from __future__ import annotations

import bisect
import itertools
import math
from typing import Iterator, List, Sequence

from mmengine.dist import get_world_size
from mmpose.registry import DATA_SAMPLERS
from torch.utils.data import BatchSampler, Sampler


@DATA_SAMPLERS.register_module()
class MultiSourceBatchSampler(BatchSampler):
    """Batches of ``batch_size`` indices, a fixed number from each source of
    a ``ConcatDataset``; one epoch is one pass over the first source.

    With ``source_ratio=[1, 1]`` and ``batch_size=32`` every step sees 16
    labelled and 16 unlabelled faces, and an epoch has as many steps as the
    labelled set alone at batch 16: the student gets the same labelled
    schedule as without the unlabelled faces, plus distillation on them.
    (mmdet's ``MultiSourceSampler`` mixes sources the same way but is
    infinite, for iteration-based loops.)

    The wrapped sampler (MMEngine's ``DefaultSampler``) still decides the
    order, the per-epoch seed (``set_epoch``, called through
    ``batch_sampler.sampler``) and the split across ranks; its indices are
    only regrouped by source. A later source is cycled when it runs out, and
    the first source is cycled or cut to ``len(self)`` batches so that every
    rank runs the same number of steps. On one process an epoch is exactly
    one pass over the first source; without ``drop_last`` its last share
    may be short, as in a plain ``BatchSampler``.

    Args:
        sampler: Sampler over the ``ConcatDataset`` (must expose ``dataset``).
        batch_size: Indices per batch, all sources together.
        source_ratio: Share of each source in a batch, as mmdet's
            ``MultiSourceSampler`` splits it: ``int(batch_size * r / sum)``
            for every source but the first, which takes the rest.
        drop_last: Drop the first source's last, incomplete share.
    """

    def __init__(self,
                 sampler: Sampler,
                 batch_size: int,
                 source_ratio: Sequence[float] = (1, 1),
                 drop_last: bool = False) -> None:
        dataset = getattr(sampler, 'dataset', None)
        if not hasattr(dataset, 'cumulative_sizes'):
            raise TypeError('MultiSourceBatchSampler needs a sampler over a '
                            f'ConcatDataset, got {type(dataset).__name__}')
        sizes = [len(d) for d in dataset.datasets]
        if len(source_ratio) != len(sizes):
            raise ValueError(f'source_ratio {list(source_ratio)} has {len(source_ratio)} '
                             f'entries for {len(sizes)} datasets')
        counts = [int(batch_size * r / sum(source_ratio)) for r in source_ratio]
        counts[0] = batch_size - sum(counts[1:])
        if min(counts) < 1:
            raise ValueError(f'batch_size {batch_size} with source_ratio '
                             f'{list(source_ratio)} gives {counts} samples per source; '
                             'every source needs at least one')
        if 0 in sizes:
            raise ValueError(f'a source of the ConcatDataset is empty (sizes {sizes})')
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.counts = counts
        self.cumulative_sizes = list(dataset.cumulative_sizes)
        per_rank = math.ceil(sizes[0] / get_world_size())
        self._len = per_rank // counts[0] if drop_last else math.ceil(per_rank / counts[0])

    def _by_source(self) -> List[List[int]]:
        queues: List[List[int]] = [[] for _ in self.counts]
        for idx in self.sampler:
            queues[bisect.bisect_right(self.cumulative_sizes, idx)].append(idx)
        for source, queue in enumerate(queues):
            if not queue:
                raise RuntimeError(f'source {source} got no sample on this rank; '
                                   'it is too small for the number of processes')
        return queues

    def __iter__(self) -> Iterator[List[int]]:
        first, *others = self._by_source()
        streams = [itertools.cycle(queue) for queue in others]
        n0 = self.counts[0]
        # Too few for len(self) batches happens only on a rank that drew
        # fewer first-source indices than the others; cycling keeps every
        # rank at the same number of steps.
        if self.drop_last or len(first) <= (self._len - 1) * n0:
            first = list(itertools.islice(itertools.cycle(first), self._len * n0))
        for b in range(self._len):
            batch = first[b * n0:(b + 1) * n0]
            for stream, count in zip(streams, self.counts[1:]):
                batch += list(itertools.islice(stream, count))
            yield batch

    def __len__(self) -> int:
        return self._len
