"""The "Run D.U.B. fine-tune" pipeline (docs/method.md §4, §6, §7, §8.2).

Phases (each resumable from the checkpoint written after every epoch):
  regularize  CE + the gated Hoyer-variance regularizer (closed-form gradient added after backward),
              SGD momentum 0.9, weight decay lambda_2 on ALL parameters, MultiStep schedule at
              50/160, 100/160, 150/160 of the run (gamma 0.1). Its last epoch is the regularized model.
  prune       D.U.B. fixed-ratio prune of the LAST-epoch weights (A12) at per-layer ratios or a preset.
  finetune    masked fine-tune: SGD lr, momentum 0, weight decay 0, no regularizer, schedule at
              50/200, 100/200, 150/200; masked weights re-zeroed after EVERY optimizer step. Trained
              parameters (§7): `convs` (default: every nn.Conv2d's weight and bias, as the reference's
              DUB scripts — VGG `features.*`, ResNet's 20 conv weights; BN affine and the classifier
              frozen, BN running statistics still updated), `all-but-classifier` (the LBL scripts) or `all`.
  baseline    unstructured per-layer magnitude prune (§8.2) at the SAME ratios of the SAME starting point
              as D.U.B. (default: the regularized model, so only the pruning rule differs;
              `--baseline-start initial` prunes the weights the run started from instead), then the SAME
              fine-tune (epochs, lr, schedule, trained parameters, masks re-zeroed every step).

Distributed: under torchrun every rank runs this code; DistributedDataParallel averages the CE
gradients during backward, then every rank adds the same closed-form regularizer gradient (the weights
are identical on all ranks), which equals the gradient of mean CE + L_DUB. Pruning runs on rank 0 and
the result is broadcast. Only rank 0 prints JSON lines and writes files.
"""
from __future__ import annotations

import copy
import math
import os
import signal
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from .checkpoint import atomic_save, load_own_checkpoint, save_own_checkpoint
from .crossbar import CrossbarGeometry, conv_layers, model_histogram
from .data import ArrayDataset, Splits, Transform, batches
from .events import Emitter, log
from .prune import RatioSpec, apply_masks, prune_model, resolve_ratios
from .regularizer import DubRegularizer

PAPER_TRAIN_MILESTONES = (50 / 160, 100 / 160, 150 / 160)
PAPER_FINETUNE_MILESTONES = (50 / 200, 100 / 200, 150 / 200)
FINETUNE_PARAMS = ("convs", "all-but-classifier", "all")


class PipelineError(RuntimeError):
    """A problem reported as one line ({"event":"error"}) before or during the run."""


@dataclass
class Config:
    crossbar_size: int = 64  # T (the CLI's --tile)
    slices: int = 1
    lam_var: float = 1e-3
    lam_l2: float = 1e-3
    lr: float = 0.01
    momentum: float = 0.9
    epochs: int = 160
    batch_size: int = 128
    ratios: Any = None  # preset id, one number, or a list (RatioSpec)
    prune_method: str = "dub"  # dub | dub-tol
    tol: float = 1e-3
    skip_q0: bool = False
    exclude_padded: bool = False
    gate: bool = True
    ft_epochs: int = 200
    ft_lr: float = 0.01
    ft_params: str = "convs"
    baseline: bool = True
    baseline_start: str = "regularized"  # regularized | initial
    seed: int = 0
    augment: bool = False
    standardize: bool = False
    clip_grad: float = 0.0
    projection: bool = True
    max_steps: int = 0  # stop each epoch after this many steps (smoke tests); 0 = the whole epoch
    # NHWC activations: oneDNN's CPU convolutions and batch norms run about 20 % faster on them (a
    # CNN with BatchNorm on 28x28 images, torch 1.13); the numbers are the same up to rounding.
    channels_last: bool = False

    def milestones(self, epochs: int, fractions: Sequence[float]) -> List[int]:
        return sorted({max(1, int(round(f * epochs))) for f in fractions if int(round(f * epochs)) < epochs})


def _saved_config(cfg: Config) -> Dict[str, Any]:
    """The config as a resume file stores it. The crossbar size keeps its key `tile` there, so that
    files written before `crossbar_size` was named so still resume, and still refuse another size."""
    return {("tile" if k == "crossbar_size" else k): v for k, v in asdict(cfg).items()}


@dataclass
class DistContext:
    rank: int = 0
    world: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def sum(self, values: Sequence[float]) -> List[float]:
        t = torch.tensor(list(values), dtype=torch.float64, device=self.device)
        if self.active:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t.tolist()

    def any(self, flag: bool) -> bool:
        if not self.active:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item() > 0)

    def broadcast_module(self, model: nn.Module) -> None:
        if not self.active:
            return
        with torch.no_grad():
            for t in list(model.parameters()) + list(model.buffers()):
                dist.broadcast(t.data, src=0)


def init_distributed(device: Optional[str] = None) -> DistContext:
    """From torchrun's environment (WORLD_SIZE, RANK, LOCAL_RANK): gloo on CPU, nccl on GPU, one GPU per
    process. `auto` (or none) takes the GPUs when there is one for each process of this node, else the CPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    use_cuda = gpus > 0 and device != "cpu"
    if use_cuda and local_world > gpus:
        if device == "cuda":
            raise PipelineError(f"{local_world} processes on this node but {gpus} GPU(s): start one process per GPU "
                                f"(--nproc_per_node {gpus}) or train on the CPU (--device cpu)")
        if device in (None, "auto"):
            log(f"{local_world} processes on this node but {gpus} GPU(s): training on the CPU (gloo)", rank == 0)
            use_cuda = False
    dev = torch.device(f"cuda:{local}" if use_cuda else "cpu") if device in (None, "auto", "cpu", "cuda") else torch.device(device)
    if use_cuda:
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return DistContext(rank=rank, world=world, device=dev)


def finetune_parameter_names(model: nn.Module, mode: str) -> List[str]:
    """Which parameters the masked fine-tune trains (§7): convs | all-but-classifier | all."""
    names = [n for n, p in model.named_parameters()]
    if mode == "all":
        return names
    if mode == "convs":
        keep = set()
        for mname, m in conv_layers(model):
            for pname, _ in m.named_parameters(recurse=False):
                keep.add(f"{mname}.{pname}" if mname else pname)
        return [n for n in names if n in keep]
    if mode == "all-but-classifier":
        linears = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
        if not linears:
            return names
        last = linears[-1]
        return [n for n in names if not (n == last or n.startswith(last + "."))]
    raise PipelineError(f"--finetune-params must be one of {', '.join(FINETUNE_PARAMS)}, got '{mode}'")


def check_fits(model: nn.Module, splits: Splits, transform: Transform, device: torch.device) -> int:
    """A forward pass on two training images before any training: a dataset that does not fit is one line."""
    x = transform(splits.train.x[:2], False).to(device)
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(x)
    except Exception as ex:  # the user's model raises whatever it raises
        msg = str(ex).strip().splitlines()[0] if str(ex).strip() else type(ex).__name__
        raise PipelineError(f"the dataset's images ({'x'.join(map(str, splits.train.image_shape))}) do not fit the model's input: {msg}") from None
    finally:
        model.train(was)
    if not isinstance(out, torch.Tensor) or out.dim() != 2:
        raise PipelineError(f"the model must return N x classes logits, got {getattr(out, 'shape', type(out).__name__)}")
    classes = max(splits.train.num_classes, splits.test.num_classes)
    if out.shape[1] < classes:
        raise PipelineError(f"the dataset has {classes} classes but the model outputs {out.shape[1]} logits")
    if not conv_layers(model):
        raise PipelineError("the model has no nn.Conv2d layers: nothing to map onto crossbars")
    return classes


def evaluate_model(model: nn.Module, ds: ArrayDataset, transform: Transform, ctx: DistContext,
                   memory_format: torch.memory_format = torch.contiguous_format) -> Tuple[float, float]:
    """(accuracy %, mean CE) of `model` in eval mode on a dataset, sharded over ranks, every image counted once."""
    model.eval()
    correct = total = loss_sum = 0.0
    with torch.no_grad():
        for x, y in batches(ds, 512, transform, train=False, rank=ctx.rank, world=ctx.world):
            x, y = x.to(ctx.device, memory_format=memory_format), y.to(ctx.device)
            out = model(x)
            loss_sum += float(F.cross_entropy(out, y, reduction="sum"))
            correct += float((out.argmax(1) == y).sum())
            total += len(y)
    correct, total, loss_sum = ctx.sum([correct, total, loss_sum])
    return 100.0 * correct / max(total, 1), loss_sum / max(total, 1)


class StopRequested(Exception):
    pass


class Pipeline:
    """Runs the phases; `run()` returns the summary dict (also the `done` event's payload)."""

    def __init__(self, cfg: Config, model: nn.Module, splits: Splits, ctx: DistContext, emitter: Emitter, *,
                 out: Optional[str], checkpoint: Optional[str], baseline_out: Optional[str] = None,
                 force: bool = False, label: str = "") -> None:
        self.cfg = cfg
        self.memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
        self.model = model.to(ctx.device, memory_format=self.memory_format)
        self.splits = splits
        self.ctx = ctx
        self.emit = emitter
        self.out = out
        self.checkpoint_path = checkpoint
        self.baseline_out = baseline_out
        self.force = force
        self.label = label
        self.geometry = CrossbarGeometry(cfg.crossbar_size, cfg.slices)
        self.transform = Transform(augment=cfg.augment, standardize=cfg.standardize)
        self.regularizer = DubRegularizer(self.geometry, cfg.lam_var, gate=cfg.gate, exclude_padded=cfg.exclude_padded)
        self.stop = False
        self.state: Dict[str, Any] = {"phase": "regularize", "epoch": 0, "step": 0}
        self.results: Dict[str, Any] = {}
        self.initial_state = copy.deepcopy(self.model.state_dict())
        self.regularized_state: Optional[Dict[str, torch.Tensor]] = None
        self.dub_state: Optional[Dict[str, torch.Tensor]] = None
        self.masks: Dict[str, torch.Tensor] = {}
        self.requires_grad = {n: p.requires_grad for n, p in self.model.named_parameters()}
        layers = [(n, tuple(m.weight.shape)) for n, m in conv_layers(self.model)]
        self.layer_ratios: Optional[List[float]] = None if cfg.prune_method == "dub-tol" else resolve_ratios(layers, cfg.ratios)
        self._resume_blob: Optional[Dict[str, Any]] = None

    # ---- signals ---------------------------------------------------------------------------------------
    def install_signal_handlers(self) -> None:
        def handler(signum: int, _frame: Any) -> None:
            self.stop = True
            log(f"signal {signum}: finishing the current step, then writing the checkpoint", self.ctx.main)
        signal.signal(signal.SIGTERM, handler)
        signal.signal(signal.SIGINT, handler)

    # ---- checkpoint ------------------------------------------------------------------------------------
    def _blob(self, optimizer: Optional[torch.optim.Optimizer], scheduler: Any, partial: Optional[List[float]]) -> Dict[str, Any]:
        return {
            "config": _saved_config(self.cfg),
            "phase": self.state["phase"],
            "epoch": self.state["epoch"],
            "step": self.state["step"],
            "partial": partial or [],
            "model": self.model.state_dict(),
            "optimizer": optimizer.state_dict() if optimizer is not None else {},
            "scheduler": scheduler.state_dict() if scheduler is not None else {},
            "masks": self.masks,
            # The starting weights are needed again only by --baseline-start initial.
            "initial": self.initial_state if self.cfg.baseline_start == "initial" else {},
            "regularized": self.regularized_state or {},
            "dub": self.dub_state or {},
            "results": self.results,
            "rng": torch.get_rng_state(),
        }

    def save_checkpoint(self, optimizer: Optional[torch.optim.Optimizer] = None, scheduler: Any = None,
                        partial: Optional[List[float]] = None) -> None:
        if not self.checkpoint_path or not self.ctx.main:
            return
        save_own_checkpoint(self._blob(optimizer, scheduler, partial), self.checkpoint_path)
        self.emit.emit("checkpoint", path=self.checkpoint_path, phase=self.state["phase"], epoch=self.state["epoch"],
                       step=self.state["step"])

    def resume(self, path: str) -> None:
        """Continues from our own checkpoint (every rank reads it; the saved config must match)."""
        try:
            blob = load_own_checkpoint(path)
        except ValueError as ex:
            raise PipelineError(str(ex)) from None
        try:
            saved = blob["config"]
        except KeyError:
            raise PipelineError(f"{path}: not a resume checkpoint of this engine") from None
        now = _saved_config(self.cfg)
        differs = [k for k in saved if k in now and saved[k] != now[k] and k not in ("projection",)]
        if differs:
            raise PipelineError(f"{path}: was written with other settings ({', '.join(f'{k}={saved[k]!r}' for k in differs[:4])}); "
                                "resume with the same options")
        self.model.load_state_dict(blob["model"])
        self.state = {"phase": blob["phase"], "epoch": int(blob["epoch"]), "step": int(blob["step"])}
        self.masks = {k: v.to(self.ctx.device) for k, v in blob["masks"].items()}
        self.initial_state = blob["initial"] or self.initial_state
        self.regularized_state = blob["regularized"] or None
        self.dub_state = blob["dub"] or None
        self.results = blob["results"]
        torch.set_rng_state(blob["rng"])
        self._resume_blob = blob

    # ---- helpers -----------------------------------------------------------------------------------------
    def inner(self) -> nn.Module:
        return self.model

    def evaluate(self, ds: ArrayDataset) -> Tuple[float, float]:
        """(accuracy %, mean CE) on a dataset, sharded over ranks, every image counted once."""
        return evaluate_model(self.model, ds, self.transform, self.ctx, self.memory_format)

    def histogram(self) -> Tuple[List[int], Optional[float]]:
        return model_histogram(self.model, self.geometry)

    def projected(self) -> Optional[float]:
        """ADC improvement the D.U.B. prune would give right now (a pruned copy, on rank 0)."""
        if not self.cfg.projection or not self.ctx.main:
            return None
        clone = copy.deepcopy(self.model).cpu()
        self._prune(clone, self.cfg.prune_method)
        return model_histogram(clone, self.geometry)[1]

    def _prune(self, model: nn.Module, method: str) -> Any:
        ratios = self.layer_ratios
        if ratios is None and method == "unstructured":
            # dub-tol has no ratios: the baseline prunes each layer to the sparsity D.U.B. reached.
            ratios = self.results.get("dubLayerSparsity")
        spec: RatioSpec = ratios if ratios is not None else 0.0
        return prune_model(model, spec, self.geometry, method=method, skip_q0=self.cfg.skip_q0, tol=self.cfg.tol)

    def _set_trainable(self, names: Optional[Sequence[str]]) -> List[nn.Parameter]:
        allowed = set(names) if names is not None else None
        params = []
        for n, p in self.model.named_parameters():
            p.requires_grad_(self.requires_grad[n] and (allowed is None or n in allowed))
            if p.requires_grad:
                params.append(p)
        return params

    # ---- one phase of SGD ---------------------------------------------------------------------------------
    def _sgd_phase(self, phase: str, epochs: int, lr: float, momentum: float, weight_decay: float,
                   milestones: Sequence[float], trainable: Optional[Sequence[str]], regularize: bool,
                   masks: Optional[Dict[str, torch.Tensor]]) -> Dict[str, Any]:
        params = self._set_trainable(trainable)
        if not params:
            raise PipelineError(f"phase {phase}: no parameters to train")
        optimizer = torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
        scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=self.cfg.milestones(epochs, milestones), gamma=0.1)
        resuming = self._resume_blob is not None and self.state["phase"] == phase
        partial: List[float] = []
        if resuming:
            assert self._resume_blob is not None
            if self._resume_blob["optimizer"]:
                optimizer.load_state_dict(self._resume_blob["optimizer"])
                scheduler.load_state_dict(self._resume_blob["scheduler"])
            partial = list(self._resume_blob["partial"])
            self._resume_blob = None
        else:
            self.state = {"phase": phase, "epoch": 0, "step": 0}
        wrapped: nn.Module = self.model
        if self.ctx.active:
            wrapped = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.ctx.device.index] if self.ctx.device.type == "cuda" else None)
        # --batch-size is the global batch: each of N processes takes 1/N of it, so a run's
        # hyper-parameters (and its result, within noise) do not depend on the number of processes.
        per_rank = max(1, self.cfg.batch_size // self.ctx.world)
        conv_weights = [m.weight for _, m in conv_layers(self.model)]
        reg_weights = [w for w in conv_weights if w.requires_grad]
        last: Dict[str, Any] = {}
        best = self.results.get(phase, {}).get("bestAccuracy", -1.0) if resuming else -1.0
        for epoch in range(self.state["epoch"], epochs):
            wrapped.train()
            skip = self.state["step"]
            # sums: loss, regularizer, correct, count
            sums = partial if (skip and len(partial) == 4) else [0.0, 0.0, 0.0, 0.0]
            partial = []
            t0 = time.time()
            for step, (x, y) in enumerate(batches(self.splits.train, per_rank, self.transform, train=True,
                                                  seed=self.cfg.seed, epoch=epoch, rank=self.ctx.rank, world=self.ctx.world)):
                if step < skip:
                    continue
                if self.cfg.max_steps and step >= self.cfg.max_steps:
                    break
                x = x.to(self.ctx.device, non_blocking=True, memory_format=self.memory_format)
                y = y.to(self.ctx.device, non_blocking=True)
                optimizer.zero_grad(set_to_none=True)
                out = wrapped(x)
                loss = F.cross_entropy(out, y)
                loss.backward()  # DDP: CE gradients are averaged over ranks here
                reg = self.regularizer.apply(reg_weights) if regularize else 0.0
                if self.cfg.clip_grad > 0:
                    torch.nn.utils.clip_grad_norm_(params, self.cfg.clip_grad)
                optimizer.step()
                if masks:
                    apply_masks(self.model, masks)
                lv = float(loss)
                if not math.isfinite(lv):
                    raise PipelineError(f"phase {phase}: the loss became {lv} in epoch {epoch + 1}; lower --lr"
                                        + (" or --lambda-var" if regularize else "") + " (or set --clip-grad)")
                sums[0] += lv * len(y)
                sums[1] += reg * len(y)
                sums[2] += float((out.detach().argmax(1) == y).sum())
                sums[3] += len(y)
                self.state["step"] = step + 1
                if self.ctx.any(self.stop):
                    self.state["epoch"] = epoch
                    self.save_checkpoint(optimizer, scheduler, sums)
                    raise StopRequested()
            epoch_lr = optimizer.param_groups[0]["lr"]  # the rate this epoch ran at
            scheduler.step()
            loss_sum, reg_sum, correct, count = self.ctx.sum(sums)
            test_acc, test_loss = self.evaluate(self.splits.test)
            best = max(best, test_acc)
            hist, imp = self.histogram()
            event: Dict[str, Any] = {
                "phase": phase, "epoch": epoch + 1, "epochs": epochs,
                "loss": loss_sum / max(count, 1), "trainAccuracy": 100.0 * correct / max(count, 1),
                "testAccuracy": test_acc, "testLoss": test_loss,
                "adcEnergyImprovement": imp, "levelHistogram": hist,
                "lr": epoch_lr, "seconds": round(time.time() - t0, 3), "trainImages": int(count),
            }
            if regularize:
                event["regularizerLoss"] = reg_sum / max(count, 1)
                event["projectedAdcEnergyImprovement"] = self.projected()
            if self.label:
                event["run"] = self.label
            self.emit.emit("epoch", **event)
            self.state = {"phase": phase, "epoch": epoch + 1, "step": 0}
            last = {"accuracy": test_acc, "bestAccuracy": best, "adcEnergyImprovement": imp, "levelHistogram": hist,
                    "epochs": epochs}
            self.results[phase] = last
            self.save_checkpoint(optimizer, scheduler)
        self._set_trainable(None)
        return self.results.get(phase, last)

    # ---- the run -----------------------------------------------------------------------------------------
    def _prune_phase(self, method: str, source: Dict[str, torch.Tensor], key: str) -> None:
        """Prunes `source` weights (rank 0), broadcasts them, derives masks = (W == 0); emits a prune event."""
        self.model.load_state_dict(source)
        layers: List[Dict[str, Any]] = []
        if self.ctx.main:
            res = self._prune(self.model, method)
            layers = res.summary()["layers"]
        self.ctx.broadcast_module(self.model)
        self.masks = {n: (m.weight.detach() == 0) for n, m in conv_layers(self.model)}
        acc, _ = self.evaluate(self.splits.test)
        hist, imp = self.histogram()
        zeros = sum(int(m.sum()) for m in self.masks.values())
        total = sum(m.numel() for m in self.masks.values())
        self.results[key + "Prune"] = {"accuracy": acc, "adcEnergyImprovement": imp, "levelHistogram": hist}
        if key == "dub":
            self.results["dubLayerSparsity"] = [100.0 * float(m.float().mean()) for m in self.masks.values()]
        self.emit.emit("prune", phase=key, method=method, ratios=self.layer_ratios, testAccuracy=acc,
                       adcEnergyImprovement=imp, levelHistogram=hist, zeros=zeros, weights=total, layers=layers,
                       **({"run": self.label} if self.label else {}))

    def run(self) -> Dict[str, Any]:
        cfg = self.cfg
        ft_names = finetune_parameter_names(self.model, cfg.ft_params)
        phase = self.state["phase"]
        order = ["regularize", "finetune", "baseline", "done"]
        if order.index(phase) <= 0:
            if cfg.epochs > 0:
                self._sgd_phase("regularize", cfg.epochs, cfg.lr, cfg.momentum, cfg.lam_l2, PAPER_TRAIN_MILESTONES,
                                None, regularize=True, masks=None)
            self.regularized_state = copy.deepcopy(self.model.state_dict())
            self._prune_phase(cfg.prune_method, self.regularized_state, "dub")
            self.state = {"phase": "finetune", "epoch": 0, "step": 0}
            self.save_checkpoint()
        if order.index(self.state["phase"]) <= 1:
            self._sgd_phase("finetune", cfg.ft_epochs, cfg.ft_lr, 0.0, 0.0, PAPER_FINETUNE_MILESTONES,
                            ft_names, regularize=False, masks=self.masks)
            self.dub_state = copy.deepcopy(self.model.state_dict())
            self.results["dub"] = self._summary("finetune", "dubPrune")
            self.state = {"phase": "baseline" if cfg.baseline else "done", "epoch": 0, "step": 0}
            if cfg.baseline:
                start = self.regularized_state if cfg.baseline_start == "regularized" else self.initial_state
                assert start is not None
                self._prune_phase("unstructured", start, "unstructured")
            self.save_checkpoint()
        if self.state["phase"] == "baseline":
            self._sgd_phase("baseline", cfg.ft_epochs, cfg.ft_lr, 0.0, 0.0, PAPER_FINETUNE_MILESTONES,
                            ft_names, regularize=False, masks=self.masks)
            self.results["unstructured"] = self._summary("baseline", "unstructuredPrune")
            if self.baseline_out and self.ctx.main:
                atomic_save(self.model.state_dict(), self.baseline_out, force=True)
            self.state = {"phase": "done", "epoch": 0, "step": 0}
            self.save_checkpoint()
        assert self.dub_state is not None
        self.model.load_state_dict(self.dub_state)
        if self.out and self.ctx.main:
            atomic_save(self.model.state_dict(), self.out, force=True)
        return self.summary()

    def _summary(self, phase: str, prune_key: str) -> Dict[str, Any]:
        ft = self.results.get(phase, {})
        pr = self.results.get(prune_key, {})
        return {"accuracy": ft.get("accuracy", pr.get("accuracy")), "bestAccuracy": ft.get("bestAccuracy", pr.get("accuracy")),
                "afterPruneAccuracy": pr.get("accuracy"),
                "adcEnergyImprovement": ft.get("adcEnergyImprovement", pr.get("adcEnergyImprovement")),
                "levelHistogram": ft.get("levelHistogram", pr.get("levelHistogram"))}

    def summary(self) -> Dict[str, Any]:
        regularized = self.results.get("regularize", {})
        return {
            "out": self.out,
            "baselineStart": self.cfg.baseline_start,
            "regularized": {"accuracy": regularized.get("accuracy"), "adcEnergyImprovement": regularized.get("adcEnergyImprovement")},
            "dub": self.results.get("dub"),
            "unstructured": self.results.get("unstructured"),
            "ratios": self.layer_ratios,
        }
