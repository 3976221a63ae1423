#!/usr/bin/env bash
# An emulated aarch64 device for tools/arm64_check.py, built once into the
# cache (12 MB of .deb files and 80 MB of wheels fetched; 330 MB unpacked):
#
#   qemu/qemu-aarch64   qemu-user from Debian trixie (the newest the registry
#                       offers: bookworm's 7.2 emulates SME wrongly, see
#                       docs/embedded.md, "On ARM"); statically linked
#   root/               Debian bookworm's arm64 Python 3.11 and its libraries
#   site/               aarch64 wheels of requirements/device.txt, unpacked
#
# Needs root (dpkg --add-architecture arm64, apt-get) and the Debian and PyPI
# registries. IVSLAB_ARM64_DIR overrides the cache folder.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${IVSLAB_ARM64_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/ivslab-plugin/arm64}"
PYTHON="$(bash "$ROOT/tools/install.sh" --check-python)"
log() { printf '[arm64 %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

stamp="$( (cat "$ROOT/requirements/device.txt" "$0") | sha256sum | cut -d' ' -f1)"
if [[ -f "$DIR/.stamp" && "$(cat "$DIR/.stamp")" == "$stamp" ]]; then
  log "up to date ($DIR)"
  exit 0
fi
for tool in apt-get dpkg; do
  command -v "$tool" >/dev/null || { echo "[arm64] error: needs $tool (Debian or Ubuntu)" >&2; exit 1; }
done
if [[ "$(id -u)" != 0 ]]; then
  echo "[arm64] error: needs root for dpkg --add-architecture arm64 and apt-get" >&2
  exit 1
fi
rm -rf "$DIR" && mkdir -p "$DIR"/{debs,root,site,qemu,wheels}

log "qemu-user from Debian trixie"
own=/etc/apt/sources.list.d/ivslab-arm64-trixie.list
# the trixie list is only for qemu: gone (and apt's lists refreshed) after
trap '[[ -f "$own" ]] && rm -f "$own" && apt-get update -qq' EXIT
echo "deb [arch=amd64] http://deb.debian.org/debian trixie main" > "$own"
apt-get update -qq
(cd "$DIR/debs" && apt-get download -qq qemu-user/trixie 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
rm -f "$own"
dpkg -x "$DIR"/debs/qemu-user_*.deb "$DIR/qemu/x"
mv "$DIR/qemu/x/usr/bin/qemu-aarch64" "$DIR/qemu/" && rm -rf "$DIR/qemu/x" "$DIR"/debs/qemu-user_*.deb

log "Python 3.11 for arm64 from Debian bookworm"
dpkg --add-architecture arm64
apt-get update -qq
pkgs=(python3.11-minimal libpython3.11-minimal libpython3.11-stdlib libc6 libexpat1
      zlib1g libffi8 libssl3 libstdc++6 libgcc-s1 libbz2-1.0 liblzma5 libsqlite3-0
      libncursesw6 libtinfo6 libreadline8 libuuid1 libcrypt1 libdb5.3 libnsl2 libtirpc3
      libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0 libcom-err2 libkeyutils1)
(cd "$DIR/debs" && apt-get download -qq "${pkgs[@]/%/:arm64}" 2>&1 | grep -v '^W: Download is performed unsandboxed' || true)
for deb in "$DIR"/debs/*.deb; do dpkg -x "$deb" "$DIR/root"; done
rm -rf "$DIR/debs"

log "aarch64 wheels of requirements/device.txt"
# ai-edge-litert's aarch64 wheel is tagged manylinux_2_27 only
"$PYTHON" -m pip download -q --disable-pip-version-check --only-binary=:all: \
  --python-version 3.11 --implementation cp \
  --platform manylinux2014_aarch64 --platform manylinux_2_17_aarch64 \
  --platform manylinux_2_27_aarch64 --platform manylinux_2_28_aarch64 \
  -d "$DIR/wheels" -r "$ROOT/requirements/device.txt"
for whl in "$DIR"/wheels/*.whl; do "$PYTHON" -m zipfile -e "$whl" "$DIR/site/"; done
rm -rf "$DIR/wheels"

PYTHONPATH="$DIR/site" "$DIR/qemu/qemu-aarch64" -cpu neoverse-n1 -L "$DIR/root" \
  "$DIR/root/usr/bin/python3.11" -c 'import platform, numpy, cv2; print("[arm64] python", platform.python_version(), platform.machine(), "numpy", numpy.__version__, "cv2", cv2.__version__)'
echo "$stamp" > "$DIR/.stamp"
log "done: $DIR ($(du -sh "$DIR" | cut -f1))"
