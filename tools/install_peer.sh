#!/usr/bin/env bash
# The peer's environment for tools/analysis/e2e_latency.py: the bundles'
# device packages and MediaPipe 0.10.21 (requirements/peer.txt says why it is
# separate from .venv and why MediaPipe goes in without its dependencies).
#
#   bash tools/install_peer.sh        # creates .venv-peer (IVSLAB_PEER_VENV)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${IVSLAB_PEER_VENV:-$ROOT/.venv-peer}"
PYTHON="$(bash "$ROOT/tools/install.sh" --check-python)"
MEDIAPIPE="$(grep -o "mediapipe==[0-9.]*" "$ROOT/ivslab_plugin/deploy/lite/bench.py" | head -1)"
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q -r "$ROOT/requirements/peer.txt"
"$VENV/bin/python" -m pip install -q --no-deps "$MEDIAPIPE"
"$VENV/bin/python" -c "import mediapipe as mp; mp.solutions.face_mesh; print('[peer] mediapipe', mp.__version__, 'in $VENV')"
