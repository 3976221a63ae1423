#!/usr/bin/env bash
# One idempotent install: creates .venv at the repository root and installs
# the pinned OpenMMLab stack, mmcv 2.1.0 with its compiled ops, and this plugin.
#
# mmcv has no prebuilt wheel with ops for Python 3.11, so it is compiled once
# (about 10 minutes on 2 cores) into a wheelhouse in the user's cache directory
# and reused by every later install on the same machine.
#
# Environment:
#   IVSLAB_VENV        venv path (default: <repo>/.venv)
#   IVSLAB_WHEELHOUSE  where the built mmcv wheel is kept
#                      (default: ${XDG_CACHE_HOME:-~/.cache}/ivslab-plugin/wheels)
#   IVSLAB_TORCH_INDEX extra index for torch (for example the CPU-only
#                      https://download.pytorch.org/whl/cpu); unset: the registry's build
#   IVSLAB_CUDA        1/0: compile mmcv's CUDA ops or not (default: 1 when the
#                      installed torch is a CUDA build and nvcc is on PATH)
#   IVSLAB_EXTRAS      extra requirement files to install, space separated
#   IVSLAB_ARM64       1: also build the emulated aarch64 device (tools/install_arm64.sh)
#   IVSLAB_PYTHON      the Python 3.11 to create the venv with (default:
#                      python3.11 on PATH, else python3 if it is 3.11)
#
#   bash tools/install.sh --check-python   only says which Python it would use
set -euo pipefail

# The pinned stack (torch 2.13, mmcv 2.1.0, numpy 1.26, ...) is tested on
# Python 3.11 only: find one, or refuse before anything is installed.
REQUIRED_PYTHON=3.11
python_version() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null; }
find_python() {
  local candidates=() c v tried=()
  if [[ -n "${IVSLAB_PYTHON:-}" ]]; then
    candidates=("$IVSLAB_PYTHON")
  else
    candidates=(python$REQUIRED_PYTHON python3)
  fi
  for c in "${candidates[@]}"; do
    command -v "$c" >/dev/null 2>&1 || { tried+=("$c: not found"); continue; }
    v="$(python_version "$c")" || v=unknown
    if [[ "$v" == "$REQUIRED_PYTHON" ]]; then
      command -v "$c"
      return 0
    fi
    tried+=("$c: Python $v")
  done
  {
    echo "[install] error: Python $REQUIRED_PYTHON is required (the pinned stack is tested on it only)."
    printf '[install]   tried %s\n' "${tried[@]}"
    echo "[install] install it (e.g. apt-get install python$REQUIRED_PYTHON python$REQUIRED_PYTHON-venv)" \
         "or point IVSLAB_PYTHON at one."
  } >&2
  return 1
}
PYTHON="$(find_python)" || exit 1
if [[ "${1:-}" == --check-python ]]; then
  echo "$PYTHON"
  exit 0
fi

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${IVSLAB_VENV:-$ROOT/.venv}"
WHEELHOUSE="${IVSLAB_WHEELHOUSE:-${XDG_CACHE_HOME:-$HOME/.cache}/ivslab-plugin/wheels}"
TORCH_REQS="$ROOT/requirements/torch.txt"
TORCH_INDEX="${IVSLAB_TORCH_INDEX:-}"
EXTRAS="${IVSLAB_EXTRAS:-}"
MMCV_VERSION=2.1.0
export NO_ALBUMENTATIONS_UPDATE=1

log() { printf '[install %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
# IVSLAB_ARM64=1 (CI sets it): also the emulated aarch64 device of
# tools/arm64_check.py, built once into the cache; without it the ARM test
# skips and says so.
arm64_device() {
  [[ "${IVSLAB_ARM64:-0}" == 1 ]] || return 0
  bash "$ROOT/tools/install_arm64.sh" || log "the emulated arm64 device was not built: its test will skip"
}

# Skip everything when nothing the install depends on has changed.
stamp_inputs=("$TORCH_REQS" "$ROOT"/requirements/build.txt
              "$ROOT"/requirements/runtime.txt "$ROOT"/requirements/tests.txt
              "$ROOT"/setup.py "$ROOT"/tools/install.sh)
for f in $EXTRAS; do stamp_inputs+=("$f"); done
stamp_value="$( (cat "${stamp_inputs[@]}"; echo "$TORCH_INDEX ${IVSLAB_CUDA:-}") | sha256sum | cut -d' ' -f1)"
stamp_file="$VENV/.ivslab-install-stamp"
if [[ -f "$stamp_file" && "$(cat "$stamp_file")" == "$stamp_value" ]] \
    && "$VENV/bin/python" -c "import mmcv._ext, mmpose, ivslab_plugin" 2>/dev/null; then
  log "up to date ($VENV)"
  arm64_device
  exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating $VENV with $PYTHON"
  "$PYTHON" -m venv "$VENV"
elif [[ "$(python_version "$VENV/bin/python")" != "$REQUIRED_PYTHON" ]]; then
  echo "[install] error: $VENV has Python $(python_version "$VENV/bin/python"), not" \
       "$REQUIRED_PYTHON: remove it (or set IVSLAB_VENV) and run again" >&2
  exit 1
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip install --disable-pip-version-check -q)

log "torch ($TORCH_REQS${TORCH_INDEX:+ from $TORCH_INDEX})"
"${PIP[@]}" ${TORCH_INDEX:+--extra-index-url "$TORCH_INDEX"} -r "$TORCH_REQS"
# torchvision from the registry is a CUDA build; its compiled ops are never
# used by this stack (see ivslab_plugin/compat.py), so skip its dependencies
# to keep the CPU torch.
"${PIP[@]}" --no-deps torchvision==0.28.0

log "build requirements"
"${PIP[@]}" -r "$ROOT/requirements/build.txt"

mkdir -p "$WHEELHOUSE"
torch_tag="$("$PY" -c 'import torch; print(torch.__version__.replace("+", "_"))')"
torch_cuda="$("$PY" -c 'import torch; print(int(torch.version.cuda is not None))')"
if [[ -n "${IVSLAB_CUDA:-}" ]]; then
  CUDA="$IVSLAB_CUDA"
elif [[ "$torch_cuda" == 1 ]] && command -v nvcc >/dev/null; then
  CUDA=1
else
  CUDA=0
fi
suffix=""
[[ "$CUDA" == 1 ]] && suffix="-cuda"
mmcv_dir="$WHEELHOUSE/mmcv-$MMCV_VERSION-torch$torch_tag$suffix"
if ! ls "$mmcv_dir"/mmcv-"$MMCV_VERSION"-*.whl >/dev/null 2>&1; then
  log "compiling mmcv $MMCV_VERSION with ops (CUDA=$CUDA) for torch $torch_tag (about 10 min on 2 cores, once per machine)"
  mkdir -p "$mmcv_dir"
  MMCV_WITH_OPS=1 FORCE_CUDA="$CUDA" MAX_JOBS="${MAX_JOBS:-$(nproc)}" "$PY" -m pip wheel -q \
    --no-build-isolation --no-deps --no-binary mmcv \
    -w "$mmcv_dir" "mmcv==$MMCV_VERSION"
fi
log "mmcv from $mmcv_dir"
"${PIP[@]}" --no-index --no-deps --find-links "$mmcv_dir" "mmcv==$MMCV_VERSION"

log "runtime requirements"
"${PIP[@]}" -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/tests.txt"
# mmpose's requirements pull chumpy, which fails to build on 3.11 and which
# mmpose never imports.
"${PIP[@]}" --no-deps mmpose==1.3.2
if [[ -n "$EXTRAS" ]]; then
  log "extras: $EXTRAS"
  for f in $EXTRAS; do "${PIP[@]}" -r "$f"; done
  # An extra that depends on torch can move setuptools past 80 (no more
  # pkg_resources, which mmengine imports) or numpy to 2; put the pins back.
  "${PIP[@]}" setuptools==80.9.0 numpy==1.26.4 protobuf==3.20.2 ml-dtypes==0.5.1
fi

log "ivslab_plugin (editable)"
"${PIP[@]}" --no-deps --no-build-isolation -e "$ROOT"

"$PY" -c "import mmcv._ext, mmpose, ivslab_plugin; print('ivslab_plugin', ivslab_plugin.__version__)"
# MediaPipe's BlazeFace face detector, from the mediapipe wheel on the
# registry, into the cache (kept across installs); without it the tools use
# OpenCV's Haar cascade.
log "BlazeFace face detector (cached)"
"$PY" -m ivslab_plugin.deploy.assets || log "BlazeFace not fetched: the Haar cascade will be used"
echo "$stamp_value" > "$stamp_file"
arm64_device
log "done: source $VENV/bin/activate"
