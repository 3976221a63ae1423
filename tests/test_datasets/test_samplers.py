from collections import Counter
from unittest import mock

import pytest
from mmengine.dataset import DefaultSampler
from torch.utils.data import ConcatDataset

from ivslab_plugin.datasets import MultiSourceBatchSampler


def concat(*sizes):
    return ConcatDataset([list(range(n)) for n in sizes])


def split(batch, n_first):
    return [i for i in batch if i < n_first], [i for i in batch if i >= n_first]


def test_each_batch_has_the_ratio_and_an_epoch_is_one_labelled_pass():
    sampler = DefaultSampler(concat(10, 25), shuffle=True, seed=0)
    batches = list(MultiSourceBatchSampler(sampler, batch_size=8, source_ratio=[1, 1]))
    assert len(batches) == 3 == len(MultiSourceBatchSampler(sampler, 8, [1, 1]))
    parts = [split(b, 10) for b in batches]
    assert [(len(a), len(u)) for a, u in parts] == [(4, 4), (4, 4), (2, 4)]
    assert sorted(i for a, _ in parts for i in a) == list(range(10))
    unlabelled = [i for _, u in parts for i in u]
    assert len(set(unlabelled)) == 12 and all(10 <= i < 35 for i in unlabelled)


def test_the_order_follows_the_samplers_epoch():
    sampler = DefaultSampler(concat(10, 25), shuffle=True, seed=0)
    batch_sampler = MultiSourceBatchSampler(sampler, batch_size=8, source_ratio=[1, 1])
    first = list(batch_sampler)
    assert list(batch_sampler) == first
    sampler.set_epoch(1)
    assert list(batch_sampler) != first


def test_a_small_second_source_is_cycled_and_uneven_ratios_split_like_mmdet():
    sampler = DefaultSampler(concat(10, 3), shuffle=False)
    batches = list(MultiSourceBatchSampler(sampler, batch_size=4, source_ratio=[1, 1]))
    assert len(batches) == 5
    assert Counter(i for b in batches for i in b if i >= 10) == {10: 4, 11: 3, 12: 3}
    # int(7 * 2 / 3) = 4 from the second source, the rest from the first
    batch = next(iter(MultiSourceBatchSampler(sampler, batch_size=7, source_ratio=[1, 2])))
    assert [len(p) for p in split(batch, 10)] == [3, 4]


def test_drop_last_keeps_only_full_labelled_shares():
    sampler = DefaultSampler(concat(10, 25), shuffle=False)
    batches = list(MultiSourceBatchSampler(sampler, 8, [1, 1], drop_last=True))
    assert [len(b) for b in batches] == [8, 8]


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_every_rank_runs_the_same_number_of_steps(seed):
    # the ranks' shares of a shuffled ConcatDataset differ in labelled faces
    dataset, steps = concat(11, 30), []
    for rank in (0, 1):
        with mock.patch('mmengine.dataset.sampler.get_dist_info', return_value=(rank, 2)), \
                mock.patch('ivslab_plugin.datasets.samplers.get_world_size', return_value=2):
            sampler = DefaultSampler(dataset, shuffle=True, seed=seed)
            batches = list(MultiSourceBatchSampler(sampler, batch_size=4, source_ratio=[1, 1]))
        assert all(1 <= len(split(b, 11)[0]) <= 2 and len(split(b, 11)[1]) == 2
                   for b in batches)
        steps.append(len(batches))
    assert steps == [3, 3]  # ceil(ceil(11 / 2) / 2)


def test_bad_setups_are_named():
    with pytest.raises(TypeError, match='ConcatDataset'):
        MultiSourceBatchSampler(DefaultSampler(list(range(5))), 4)
    sampler = DefaultSampler(concat(10, 25))
    with pytest.raises(ValueError, match='3 entries for 2 datasets'):
        MultiSourceBatchSampler(sampler, 4, [1, 1, 1])
    with pytest.raises(ValueError, match='at least one'):
        MultiSourceBatchSampler(sampler, 1, [1, 1])
    with pytest.raises(ValueError, match='empty'):
        MultiSourceBatchSampler(DefaultSampler(concat(10, 0)), 4)
