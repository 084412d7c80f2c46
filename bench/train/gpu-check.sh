#!/bin/bash
# The PyTorch engine on a CUDA machine (no Node needed): the Python tests under that machine's
# torch, a D.U.B. fine-tune on the GPU, the same run through the DDP launcher (nccl), the outputs
# loaded by plain torch.load (weights_only, the default since torch 2.6), and the step bench on
# the GPU. Prints what it saw; exits non-zero on the first failure.
#
#   bash bench/train/gpu-check.sh [OUT_DIR]     (python3 = the Python with CUDA torch; SKIP_PYTEST=1 skips the tests)
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-${OUT:-/tmp/crossbar-gpu-check}}
mkdir -p "$out"
export PYTHONPATH="$PWD/python" PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore
py=${PYTHON:-python3}

echo "== machine"
nvidia-smi -L
$py -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))"

if [ -z "${SKIP_PYTEST:-}" ]; then
	echo "== python tests under this torch"
	timeout 240 $py -m pytest -q -p no:cacheprovider python/tests 2>&1 | tail -n 25 || true
fi

run=(--torchvision digits-cnn --data digits --tile 16 --ratios 0,88,92 --epochs 12 --finetune-epochs 12
	--batch-size 64 --lr 0.05 --lambda-var 1e-2 --lambda-l2 3e-3 --finetune-lr 0.1 --seed 0 --device cuda)

echo "== fine-tune on the GPU (one process)"
time $py -m crossbar_lens_train finetune "${run[@]}" --out "$out/digits-gpu.pt" --events-file "$out/events-gpu.jsonl" | tail -n 2

echo "== the same through the DDP launcher (nccl, one process per GPU)"
gpus=$($py -c "import torch; print(torch.cuda.device_count())")
time $py -m crossbar_lens_train.launch --standalone --nproc_per_node "$gpus" -m crossbar_lens_train finetune "${run[@]}" --out "$out/digits-ddp.pt" | tail -n 2

echo "== outputs load with plain torch.load (weights_only default of this torch)"
$py - "$out/digits-gpu.pt" "$out/digits-ddp.pt" examples/digits-cnn.dub.pt <<'EOF'
import sys, torch
for path in sys.argv[1:]:
    sd = torch.load(path, map_location="cpu")
    state = sd.get("state_dict", sd) if isinstance(sd, dict) else sd
    zeros = sum(int((v == 0).sum()) for k, v in state.items() if k.endswith("weight") and v.dim() == 4)
    total = sum(v.numel() for k, v in state.items() if k.endswith("weight") and v.dim() == 4)
    print(f"{path}: {len(state)} tensors, conv weights {zeros}/{total} zero")
EOF

echo "== the regularizer replayed as a CUDA graph equals the same kernels launched one by one, also after the weights change"
$py - <<'EOF'
import torch
from crossbar_lens_train.crossbar import CrossbarGeometry
from crossbar_lens_train.regularizer import DubRegularizer, dub_loss_and_grad
torch.manual_seed(0)
ws = [torch.randn(s, device="cuda", requires_grad=True) for s in [(64, 3, 3, 3), (128, 64, 3, 3), (10, 128, 1, 1)]]
graphed, eager = DubRegularizer(CrossbarGeometry(32), 1e-3), DubRegularizer(CrossbarGeometry(32), 1e-3, cuda_graph=False)
for step in range(3):
    lg, gg = graphed.loss_and_grads(ws)
    le, ge = eager.loss_and_grads(ws)
    diff = max(float((a - b).abs().max()) for a, b in zip(gg, ge))
    print(f"step {step}: loss {lg:.6g} vs {le:.6g}, max |grad difference| {diff:.3g}, graph captured: {graphed._captured is not None}")
    assert graphed._captured is not None and abs(lg - le) <= 1e-6 * abs(le) and diff <= 1e-6
    # All layers in one pass (the GPU path) against the layer-by-layer closed form.
    per_layer = [dub_loss_and_grad(w, CrossbarGeometry(32), 1e-3) for w in ws]
    worst = max(float((a - b).abs().max() / b.abs().max()) for a, (_, b) in zip(gg, per_layer))
    print(f"        vs layer by layer: loss {sum(float(l) for l, _ in per_layer):.6g}, max relative grad difference {worst:.2g}")
    assert worst < 1e-4
    with torch.no_grad():
        for w in ws:
            w.mul_(0.9).add_(torch.randn_like(w), alpha=0.1)  # an optimizer step, in place
EOF

echo "== step bench on the GPU"
$py bench/train/pytorch_step.py --device cuda --iters 10
