#!/usr/bin/env bash
# Distributed training with torchrun (MMEngine DDP), one process per GPU, or
# NPROC processes on a CPU-only machine (gloo backend, chosen at run time):
#   bash tools/dist_train.sh CONFIG NPROC [train.py options]
# Several machines: run the same command on each, with NNODES (machine count),
# NODE_RANK (0..NNODES-1), MASTER_ADDR (address of node 0) and PORT set alike
# (see docs/training.md). PYTHON picks the interpreter (default: python).
set -euo pipefail
if [ $# -lt 2 ]; then
  sed -n '2,7p' "$0" >&2
  exit 2
fi
CONFIG=$1
NPROC=$2
shift 2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
PYTHON=${PYTHON:-python}
DIR="$(cd "$(dirname "$0")" && pwd)"
exec "$PYTHON" -m torch.distributed.run --nnodes="$NNODES" --node_rank="$NODE_RANK" \
  --master_addr="$MASTER_ADDR" --nproc_per_node="$NPROC" --master_port="$PORT" \
  "$DIR/train.py" "$CONFIG" --launcher pytorch "$@"
