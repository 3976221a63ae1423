#!/usr/bin/env bash
# The first thing to run on a GPU machine (about 6 minutes on one H200, once
# mmcv's ops are compiled): checks the GPU stack, trains teacher.py and
# student_kd.py for a few hundred steps on the sample data, tests both,
# exports the student and prints training throughput and GPU latency.
#
#   bash tools/gpu_smoke.sh [--data-root data/sample] [--work-dir work_dirs/gpu_smoke]
#       [--iters 300] [--batch 64] [--workers N] [--pretrained PATH|url|none] [--px-tol PX]
#       [--skip-ops-build] [--dry-run] [--cpu]
#
#   --pretrained  the teacher backbone's start: a local copy of MMPose's
#                 CSPNeXt-m checkpoint, `url` (download it), or `none`
#                 (from scratch, the default: GPU machines are often offline)
#   --workers     data-loading processes per run (default: RTMPose's 10, at
#                 most the number of CPUs; the configs' 4 suit small machines)
#   --px-tol      the export's keypoint parity bound (default: tools/deploy.py's)
#   --skip-ops-build  do not compile mmcv's CUDA ops when they are missing:
#                 training, testing and export need mmcv's ops built (mmpose
#                 imports them) but none of their CUDA kernels; the MMDetection
#                 face detector's NMS does
#   --dry-run     print the commands instead of running them
#   --cpu         run every step on the CPU (no GPU checks): how the tests run
#                 this script; its numbers say nothing about a GPU
# PYTHON picks the interpreter (default: python). Exits non-zero on the first
# failing step.
set -euo pipefail

DATA_ROOT=data/sample
WORK_DIR=work_dirs/gpu_smoke
ITERS=300
BATCH=64
PRETRAINED=none
DRY_RUN=0
DEVICE=cuda
PX_TOL=()
SKIP_OPS_BUILD=0
WORKERS=$(( $(nproc) < 10 ? $(nproc) : 10 ))
PYTHON=${PYTHON:-python}
while [ $# -gt 0 ]; do
  case "$1" in
    --data-root) DATA_ROOT=$2; shift 2 ;;
    --work-dir) WORK_DIR=$2; shift 2 ;;
    --iters) ITERS=$2; shift 2 ;;
    --batch) BATCH=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --pretrained) PRETRAINED=$2; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    --cpu) DEVICE=cpu; shift ;;
    --skip-ops-build) SKIP_OPS_BUILD=1; shift ;;
    --px-tol) PX_TOL=(--px-tol "$2"); shift 2 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "gpu_smoke.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
for n in "$ITERS" "$BATCH" "$WORKERS"; do
  case "$n" in ''|*[!0-9]*|0) echo "gpu_smoke.sh: --iters/--batch/--workers must be positive integers, got '$n'" >&2; exit 2 ;; esac
done
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

run() {
  echo "+ $*"
  if [ "$DRY_RUN" = 0 ]; then "$@"; fi
}
step() { echo; echo "=== gpu_smoke: $* ($(date -u +%H:%M:%S) UTC) ==="; }

if [ "$DEVICE" = cpu ]; then
  # MMEngine trains on the GPU whenever one is visible
  export CUDA_VISIBLE_DEVICES=
  step "CPU run (--cpu): GPU checks skipped"
else
  step "GPU and mmcv's CUDA ops"
  if [ "$DRY_RUN" = 0 ]; then
    "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA GPU visible to torch ' + torch.__version__)"
    "$PYTHON" -c "import torch; print(torch.__version__, torch.version.cuda, torch.cuda.get_device_name(0))"
  fi
  # mmcv's ops must have been compiled with CUDA: nms on CUDA tensors needs them
  if [ "$DRY_RUN" = 1 ] || ! "$PYTHON" -c "import torch, mmcv.ops
b = torch.tensor([[0., 0., 10., 10.]], device='cuda')
mmcv.ops.nms(b, torch.ones(1, device='cuda'), 0.5)" 2>/dev/null; then
    if [ "$SKIP_OPS_BUILD" = 1 ]; then
      echo "mmcv's CUDA ops are missing; not compiled (--skip-ops-build)"
    else
      echo "mmcv's CUDA ops are missing: compiling mmcv 2.1.0 with CUDA (10-20 minutes, once)"
      run env MMCV_WITH_OPS=1 FORCE_CUDA=1 MAX_JOBS="$(nproc)" "$PYTHON" -m pip install \
        --no-build-isolation --no-deps --force-reinstall --no-binary mmcv mmcv==2.1.0
    fi
  fi
fi

step "sample data in $DATA_ROOT"
if [ ! -f "$DATA_ROOT/annotations/ivslab/train.tsv" ]; then
  run "$PYTHON" tools/build_sample_data.py --out "$DATA_ROOT"
fi
VAL=annotations/ivslab/test.tsv
if [ -f "$DATA_ROOT/annotations/ivslab/val.tsv" ]; then VAL=annotations/ivslab/val.tsv; fi
if [ "$DRY_RUN" = 1 ] && [ ! -f "$DATA_ROOT/annotations/ivslab/train.tsv" ]; then
  FACES=422
else
  FACES=$(grep -c . "$DATA_ROOT/annotations/ivslab/train.tsv")
fi
EPOCHS=$("$PYTHON" tools/analysis/smoke_figures.py plan --faces "$FACES" --batch "$BATCH" --iters "$ITERS")
echo "$FACES training faces, batch $BATCH: $EPOCHS epochs for >= $ITERS steps; selection on $VAL"

COMMON=(data_root="$DATA_ROOT" val_ann_file="$VAL" train_cfg.max_epochs="$EPOCHS"
        train_cfg.val_interval="$EPOCHS" train_dataloader.batch_size="$BATCH"
        train_dataloader.num_workers="$WORKERS"
        default_hooks.logger.interval=10 param_scheduler.0.end=50
        param_scheduler.1.begin=$((EPOCHS / 2)) param_scheduler.1.end="$EPOCHS"
        param_scheduler.1.T_max=$((EPOCHS - EPOCHS / 2)))
case "$PRETRAINED" in
  none) INIT=(model.backbone.init_cfg=None) ;;
  url) INIT=() ;;
  *) INIT=(model.backbone.init_cfg.checkpoint="$PRETRAINED") ;;
esac

step "train teacher.py ($EPOCHS epochs)"
run "$PYTHON" tools/train.py configs/ivslab/teacher.py --work-dir "$WORK_DIR/teacher" \
  --cfg-options "${COMMON[@]}" "${INIT[@]}" custom_hooks.2.switch_epoch=$((EPOCHS - 1))
TEACHER="$WORK_DIR/teacher/epoch_$EPOCHS.pth"

step "train student_kd.py from the teacher ($EPOCHS epochs)"
run "$PYTHON" tools/train.py configs/ivslab/student_kd.py --work-dir "$WORK_DIR/student_kd" \
  --cfg-options "${COMMON[@]}" model.teacher_ckpt="$TEACHER"
run "$PYTHON" tools/convert_kd_ckpt.py "$WORK_DIR/student_kd/epoch_$EPOCHS.pth" "$WORK_DIR/student.pth"

step "test both on the test split"
run "$PYTHON" tools/test.py configs/ivslab/teacher.py "$TEACHER" --work-dir "$WORK_DIR/teacher_test" \
  --out "$WORK_DIR/teacher_metrics.json" --cfg-options data_root="$DATA_ROOT"
run "$PYTHON" tools/test.py configs/ivslab/student.py "$WORK_DIR/student.pth" \
  --work-dir "$WORK_DIR/student_test" --out "$WORK_DIR/student_metrics.json" \
  --cfg-options data_root="$DATA_ROOT"

# (not --sdk: after a few hundred steps some heatmaps still have two modes,
# and the SDK's slightly different crop flips their argmax; docs/deployment.md)
step "export the student (ONNX Runtime, parity with PyTorch)"
run "$PYTHON" tools/deploy.py configs/ivslab/student.py "$WORK_DIR/student.pth" \
  --work-dir "$WORK_DIR/deploy" --parity-tsv "$DATA_ROOT/annotations/ivslab/test.tsv" \
  --image-root "$DATA_ROOT/images" "${PX_TOL[@]}"

step "training throughput and GPU latency"
run "$PYTHON" tools/analysis/smoke_figures.py throughput "$WORK_DIR/teacher" --batch "$BATCH"
run "$PYTHON" tools/analysis/smoke_figures.py throughput "$WORK_DIR/student_kd" --batch "$BATCH"
run "$PYTHON" tools/analysis/smoke_figures.py latency configs/ivslab/teacher.py "$TEACHER" --device "$DEVICE"
run "$PYTHON" tools/analysis/smoke_figures.py latency configs/ivslab/student.py "$WORK_DIR/student.pth" --device "$DEVICE"
echo
echo "gpu_smoke: done; metrics in $WORK_DIR/{teacher,student}_metrics.json"
