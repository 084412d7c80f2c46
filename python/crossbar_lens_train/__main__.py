"""Command line: `python3 -m crossbar_lens_train {finetune,prune,tradeoff,repro-digits,repro-fashion} ...` (python/ on PYTHONPATH).

  finetune      the D.U.B. pipeline (regularize, prune, masked fine-tune, unstructured baseline); JSON
                lines on stdout (rank 0 only), or with --events-file in that file and one readable
                line per event on stdout; notes and errors on stderr
  prune         D.U.B. / unstructured prune of a checkpoint's conv weights (4-D tensors), no training
  tradeoff      the accuracy-ADC-energy trade-off: one-shot D.U.B. and unstructured prunes of a checkpoint
                at a sweep of ratios, each evaluated on the held-out split; JSON lines on stdout
  repro-digits  the reproduction on scikit-learn's digits (table + one JSON object as the last line)
  repro-fashion the four methods (unstructured, D.U.B. prune only, full D.U.B., whole crossbars) on
                Fashion-MNIST at T=32 (table + one JSON object as the last line)

Exit codes: 0 done (or stopped cleanly by SIGTERM/SIGINT: a "stopped" event), 1 error during the run
(an "error" event), 2 usage error (an "error" event with "usage": true).
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any, NoReturn, Optional, Sequence, Tuple

from .events import Emitter, close_events_file, open_events_file

USAGE_EXIT = 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one JSON error line on stdout plus one line on stderr."""

    def error(self, message: str) -> NoReturn:
        if int(os.environ.get("RANK", "0")) == 0:
            Emitter().emit("error", message=f"{self.prog}: {message}", usage=True)
        sys.stderr.write(f"{self.prog}: {message}\n")
        sys.exit(USAGE_EXIT)


def _image_size(text: str) -> Tuple[int, int]:
    parts = text.lower().replace("×", "x").split("x")
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"expected HxW, e.g. 32x32, got '{text}'")
    return int(parts[0]), int(parts[1])


def _power_of_two(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got '{text}'") from None
    if v < 2 or v & (v - 1):
        raise argparse.ArgumentTypeError(f"the crossbar size must be a power of two >= 2, got {v}")
    return v


def _add_geometry(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tile", type=_power_of_two, default=64, help="crossbar size T (rows = columns), default 64")
    p.add_argument("--slices", type=int, default=1, help="physical columns per weight q; R = T/q output channels per crossbar")


def _add_prune_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ratios", default=None,
                   help="per-layer prune ratios in percent: a preset (vgg11-cifar10, resnet18-imagenet, ...), "
                        "one number for all conv layers, or p1,p2,... one per conv layer in module order")
    p.add_argument("--tol", type=float, default=1e-3, help="almost-zero threshold of --prune-method dub-tol (default 1e-3)")
    p.add_argument("--skip-level0-loosening", action="store_true",
                   help="leave crossbars alone that the rule loosens to level 0 (the reference prunes each column's minimum there, A7)")


def _add_data(data: argparse._ArgumentGroup) -> None:
    data.add_argument("--data", required=True, help="digits | fashion-mnist | a CIFAR-10 folder (binary or python layout) | a folder of "
                      "IDX files (MNIST, Fashion-MNIST, ...) | an image folder | file.npz")
    data.add_argument("--test-fraction", type=float, default=0.2, help="held-out share when the data has no test split (stratified)")
    data.add_argument("--split-seed", type=int, default=0, help="seed of the held-out split")
    data.add_argument("--image-size", type=_image_size, default=None, help="resize image-folder images to HxW")
    data.add_argument("--augment", action="store_true", help="random crop (padding 4) + horizontal flip, as the paper's CIFAR runs (training only)")
    data.add_argument("--standardize", action="store_true", help="per-image standardization (std floored at 1/sqrt(N))")


def _add_model_source(src: argparse._ArgumentGroup) -> None:
    src.add_argument("--model", help="the user's factory: package.module:function or path/to/file.py:function (runs that code)")
    src.add_argument("--torchvision", help="a torchvision architecture, e.g. resnet18, vgg11_bn (or digits-cnn)")
    src.add_argument("--num-classes", type=int, default=None, help="passed to the factory / torchvision as num_classes")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="crossbar_lens_train", description=__doc__.splitlines()[0] if __doc__ else None)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    ft = sub.add_parser("finetune", help="train with the D.U.B. regularizer, prune, fine-tune with masks, compare with unstructured")
    src = ft.add_argument_group("model")
    _add_model_source(src)
    src.add_argument("--weights", help="checkpoint to start from (a state dict, or one under model/state_dict/...; read with a restricted unpickler)")
    src.add_argument("--trust-checkpoint", action="store_true",
                     help="read --weights with full unpickling (only for your own files; runs code in the pickle)")
    _add_data(ft.add_argument_group("data"))
    hw = ft.add_argument_group("crossbar")
    _add_geometry(hw)
    tr = ft.add_argument_group("phase 1: regularize (training with the D.U.B. regularizer)")
    tr.add_argument("--epochs", type=int, default=160, help="default 160 (paper, CIFAR-10)")
    tr.add_argument("--lr", type=float, default=0.01)
    tr.add_argument("--momentum", type=float, default=0.9)
    tr.add_argument("--lambda-var", type=float, default=1e-3, help="weight of the Hoyer-variance term (sum over crossbars)")
    tr.add_argument("--lambda-l2", type=float, default=1e-3, help="SGD weight decay on all parameters")
    tr.add_argument("--batch-size", type=int, default=128, help="global batch, split evenly over torchrun processes")
    tr.add_argument("--no-gate", action="store_true", help="ungated variance gradient (the reference's unused compute_loss)")
    tr.add_argument("--exclude-padded", action="store_true", help="leave padded output channels out of the variance (A4)")
    tr.add_argument("--clip-grad", type=float, default=0.0, help="clip the gradient norm (0: off)")
    pr = ft.add_argument_group("phase 2: prune")
    pr.add_argument("--prune-method", choices=("dub", "dub-tol"), default="dub")
    _add_prune_options(pr)
    fi = ft.add_argument_group("phase 3: masked fine-tune (and the unstructured baseline)")
    fi.add_argument("--finetune-epochs", type=int, default=200)
    fi.add_argument("--finetune-lr", type=float, default=0.01)
    fi.add_argument("--finetune-params", choices=("convs", "all-but-classifier", "all"), default="convs",
                    help="trained in phase 3: conv weights+biases (paper DUB, default), all but the last Linear (LBL), all")
    fi.add_argument("--no-baseline", action="store_true", help="skip the unstructured baseline")
    fi.add_argument("--baseline-start", choices=("regularized", "initial"), default="regularized",
                    help="weights the baseline prunes: the regularized model, last epoch of phase 1 (default, same start as D.U.B.), "
                         "or the starting weights")
    fi.add_argument("--baseline-out", help="also write the baseline's fine-tuned state_dict here")
    io = ft.add_argument_group("output")
    io.add_argument("--out", required=True, help="the D.U.B. fine-tuned state_dict (torch.save, atomic)")
    io.add_argument("--force", action="store_true", help="replace an existing --out")
    io.add_argument("--checkpoint", help="resume file, written every epoch (default: OUT.resume.pt)")
    io.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    io.add_argument("--seed", type=int, default=0)
    io.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    io.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    io.add_argument("--channels-last", action="store_true",
                    help="NHWC activations (faster CPU convolutions and batch norms with oneDNN; same results up to rounding)")
    io.add_argument("--max-steps-per-epoch", type=int, default=0, metavar="N",
                    help="stop each epoch after N steps (smoke tests; 0: whole epochs)")
    io.add_argument("--no-projection", action="store_true",
                    help="skip projectedAdcEnergyImprovement (a trial prune each regularize epoch)")
    io.add_argument("--events-file", metavar="PATH",
                    help="append the JSON lines to PATH instead of stdout, flushed per line, and print one readable line "
                         "per event on stdout (for a reader tailing PATH while stdout goes to a terminal)")

    pp = sub.add_parser("prune", help="prune a checkpoint's conv weights (no training)")
    pp.add_argument("weights", help="checkpoint (state dict, or a dict holding one under model/state_dict); "
                                    "its conv weights are its 4-D floating-point tensors, in order")
    pp.add_argument("--out", required=True, help="the pruned state dict (torch.save, atomic)")
    pp.add_argument("--force", action="store_true", help="replace an existing --out")
    pp.add_argument("--method", choices=("dub", "dub-tol", "unstructured", "tiles"), default="dub")
    _add_geometry(pp)
    _add_prune_options(pp)
    pp.add_argument("--trust-checkpoint", action="store_true", help="full unpickling (only for your own files)")
    pp.add_argument("--json", action="store_true", help="print a JSON summary")

    to = sub.add_parser("tradeoff", help="accuracy against ADC energy: one-shot prunes at a sweep of ratios, no training")
    src = to.add_argument_group("model")
    _add_model_source(src)
    src.add_argument("--weights", required=True, help="the trained checkpoint (read with a restricted unpickler)")
    src.add_argument("--trust-checkpoint", action="store_true",
                     help="read --weights with full unpickling (only for your own files; runs code in the pickle)")
    _add_data(to.add_argument_group("data"))
    sw = to.add_argument_group("sweep")
    _add_geometry(sw)
    sw.add_argument("--sweep", default="0,30,50,60,70,80,85,90,95,98",
                    help="prune ratios in percent, ascending (default 0,30,50,60,70,80,85,90,95,98); with --preset, "
                         "percentages of the preset's per-layer ratios")
    sw.add_argument("--preset", default=None, help="a ratio preset whose per-layer ratios the sweep scales")
    sw.add_argument("--methods", default="dub,unstructured", help="dub, unstructured or both (default), in this order at each ratio")
    run = to.add_argument_group("run")
    run.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    run.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")

    rd = sub.add_parser("repro-digits", help="reproduction on scikit-learn digits at T=16 (see repro.py)")
    rd.add_argument("--quick", action="store_true", help="reduced epochs for CI (< 60 s on 2 cores)")
    rd.add_argument("--seed", type=int, default=0)
    rd.add_argument("--threads", type=int, default=0)
    rd.add_argument("--verbose", action="store_true", help="epoch JSON lines on stderr")

    rf = sub.add_parser("repro-fashion", help="the four methods on Fashion-MNIST at T=32 (see repro_fashion.py)")
    rf.add_argument("--quick", action="store_true", help="a smoke run: a slice of the images, one epoch per phase")
    rf.add_argument("--seed", type=int, default=0)
    rf.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    rf.add_argument("--data", default="fashion-mnist", help="fashion-mnist or a folder of its IDX files")
    rf.add_argument("--holdout", action="store_true",
                    help="hold out 10,000 training images instead of the test set (how the settings were chosen)")
    rf.add_argument("--methods", default=",".join(("unstructured", "pruneOnly", "dub", "tiles")),
                    help="comma-separated subset of unstructured, pruneOnly, dub, tiles")
    rf.add_argument("--params", default=None, help="JSON object overriding settings of repro_fashion.FULL")
    rf.add_argument("--dense", help="start from this dense state_dict instead of training one")
    rf.add_argument("--save-dense", help="write the dense state_dict here")
    rf.add_argument("--verbose", action="store_true", help="epoch JSON lines on stderr")
    return parser


def _fail(message: str, code: int = 1, main: bool = True, **fields: object) -> int:
    if main:
        Emitter().emit("error", message=message, **fields)
        sys.stderr.write(f"crossbar_lens_train: {message}\n")
    return code


def cmd_finetune(args: argparse.Namespace) -> int:
    import torch

    from .crossbar import conv_layers
    from .data import DatasetError, open_dataset
    from .models import ModelError, build_model, load_weights
    from .pipeline import Config, Pipeline, PipelineError, StopRequested, check_fits, init_distributed
    from .prune import PruneSpecError, parse_ratio_spec

    if args.threads:
        torch.set_num_threads(args.threads)
    main = int(os.environ.get("RANK", "0")) == 0
    checkpoint = args.checkpoint or (args.out + ".resume.pt")
    try:
        if args.prune_method == "dub" and not args.ratios:
            raise PruneSpecError("--ratios is required for --prune-method dub (a preset, one number, or one per conv layer)")
        if args.prune_method == "dub-tol" and args.ratios:
            raise PruneSpecError("--prune-method dub-tol prunes by --tol; drop --ratios")
        if os.path.exists(args.out) and not args.force:
            return _fail(f"{args.out} exists; pass --force to replace it", USAGE_EXIT, main)
        if args.resume and not os.path.isfile(checkpoint):
            return _fail(f"--resume: {checkpoint} does not exist", USAGE_EXIT, main)
        ratios = parse_ratio_spec(args.ratios) if args.ratios else None
        torch.manual_seed(args.seed)
        ctx = init_distributed(args.device)
        model = build_model(args.model, args.torchvision, args.num_classes)
        if args.weights:
            load_weights(model, args.weights, trust=args.trust_checkpoint)
        splits = open_dataset(args.data, channels=_input_channels(model), image_size=args.image_size,
                              test_fraction=args.test_fraction, split_seed=args.split_seed)
        cfg = Config(crossbar_size=args.tile, slices=args.slices, lam_var=args.lambda_var, lam_l2=args.lambda_l2, lr=args.lr,
                     momentum=args.momentum, epochs=args.epochs, batch_size=args.batch_size, ratios=ratios,
                     prune_method=args.prune_method, tol=args.tol, skip_q0=args.skip_level0_loosening,
                     exclude_padded=args.exclude_padded, gate=not args.no_gate, ft_epochs=args.finetune_epochs,
                     ft_lr=args.finetune_lr, ft_params=args.finetune_params, baseline=not args.no_baseline,
                     baseline_start=args.baseline_start, seed=args.seed, augment=args.augment,
                     standardize=args.standardize, clip_grad=args.clip_grad, projection=not args.no_projection,
                     channels_last=args.channels_last,
                     max_steps=args.max_steps_per_epoch)
        emitter = Emitter(enabled=ctx.main)
        pipe = Pipeline(cfg, model, splits, ctx, emitter, out=args.out, checkpoint=checkpoint,
                        baseline_out=args.baseline_out, force=args.force)
        classes = check_fits(pipe.model, splits, pipe.transform, ctx.device)
        if args.resume:
            pipe.resume(checkpoint)
        pipe.install_signal_handlers()
        hist, imp = pipe.histogram()
        # Held-out accuracy of the weights the run starts from (or resumes at): epoch 0 of the curves.
        # Every rank takes part in the count; evaluation draws no random numbers, so a resume stays exact.
        start_acc = pipe.evaluate(splits.test)[0]
        emitter.emit("start", engine="pytorch", torch=torch.__version__, device=str(ctx.device), world=ctx.world,
                     model=args.model or f"torchvision:{args.torchvision}", weights=args.weights, data=args.data,
                     split=splits.split, train=len(splits.train), test=len(splits.test), classes=classes,
                     imageShape=list(splits.train.image_shape), tile=args.tile, slices=args.slices,
                     convLayers=[n for n, _ in conv_layers(pipe.model)],
                     ratios=pipe.layer_ratios, phases=["regularize", "prune", "finetune"] + (["baseline"] if cfg.baseline else []),
                     resumeFrom={"phase": pipe.state["phase"], "epoch": pipe.state["epoch"], "step": pipe.state["step"]} if args.resume else None,
                     adcEnergyImprovement=imp, levelHistogram=hist, testAccuracy=start_acc, checkpoint=checkpoint,
                     out=args.out, accuracyUnit="percent")
        try:
            summary = pipe.run()
        except StopRequested:
            emitter.emit("stopped", checkpoint=checkpoint, phase=pipe.state["phase"], epoch=pipe.state["epoch"],
                         step=pipe.state["step"], resume="rerun with the same options and --resume")
            return 0
        emitter.emit("done", **summary)
        if ctx.main and checkpoint and os.path.exists(checkpoint):
            os.unlink(checkpoint)  # the run is complete: the result is in --out
        return 0
    except DatasetError as ex:
        # "dataset": the TypeScript engine reports a dataset it cannot read as such (one line, no "internal error").
        return _fail(str(ex), 1, main, dataset=True)
    except (ModelError, PipelineError, PruneSpecError) as ex:
        return _fail(str(ex), 1, main)
    finally:
        import torch.distributed as dist
        if dist.is_initialized():
            dist.destroy_process_group()


def _input_channels(model: Any) -> int:
    """The image channels the model takes: its first conv's input channels (3 without a conv)."""
    import torch
    return next((m.in_channels for m in model.modules() if isinstance(m, torch.nn.Conv2d)), 3)


def cmd_tradeoff(args: argparse.Namespace) -> int:
    import time

    import torch

    from .crossbar import CrossbarGeometry, conv_layers
    from .data import DatasetError, Transform, open_dataset
    from .models import ModelError, build_model, load_weights
    from .pipeline import PipelineError, check_fits, init_distributed
    from .prune import PRESETS, PruneSpecError
    from .tradeoff import StopSweep, install_stop_handlers, parse_methods, parse_sweep, run_sweep

    if args.threads:
        torch.set_num_threads(args.threads)
    emitter = Emitter()
    started = time.time()
    try:
        install_stop_handlers()
        sweep = parse_sweep(args.sweep, preset=args.preset is not None)
        methods = parse_methods(args.methods)
        if args.preset is not None and args.preset not in PRESETS:
            raise PruneSpecError(f"unknown ratio preset '{args.preset}'; known: {', '.join(PRESETS)}")
        ctx = init_distributed(args.device)
        model = build_model(args.model, args.torchvision, args.num_classes)
        load_weights(model, args.weights, trust=args.trust_checkpoint)
        model.to(ctx.device)
        splits = open_dataset(args.data, channels=_input_channels(model), image_size=args.image_size,
                              test_fraction=args.test_fraction, split_seed=args.split_seed)
        transform = Transform(standardize=args.standardize)
        classes = check_fits(model, splits, transform, ctx.device)
        geometry = CrossbarGeometry(args.tile, args.slices)
        emitter.emit("start", engine="pytorch", torch=torch.__version__, device=str(ctx.device),
                     model=args.model or f"torchvision:{args.torchvision}", weights=args.weights, data=args.data,
                     split=splits.split, train=len(splits.train), test=len(splits.test), classes=classes,
                     imageShape=list(splits.test.image_shape), tile=args.tile, slices=args.slices,
                     convLayers=[n for n, _ in conv_layers(model)], sweep=sweep, methods=methods, preset=args.preset,
                     points=len(sweep) * len(methods), accuracyUnit="percent")
        run_sweep(model, splits, transform, ctx, geometry, sweep, methods, args.preset, emitter.emit)
        emitter.emit("done", seconds=round(time.time() - started, 3))
        return 0
    except StopSweep:
        emitter.emit("stopped", seconds=round(time.time() - started, 3))
        return 0
    except (DatasetError, ModelError, PipelineError, PruneSpecError) as ex:
        # The model, its factory, the data or the sweep the user gave: a usage error (exit 2), one line.
        emitter.emit("error", message=str(ex), usage=True)
        sys.stderr.write(f"crossbar_lens_train: {ex}\n")
        return USAGE_EXIT


def cmd_prune(args: argparse.Namespace) -> int:
    import json

    import torch

    from .checkpoint import atomic_save
    from .crossbar import CrossbarGeometry, crossbar_levels, improvement_from_histogram, level_histogram
    from .models import ModelError, extract_state_dict, load_checkpoint
    from .prune import PruneSpecError, parse_ratio_spec, prune_tensors

    try:
        if os.path.exists(args.out) and not args.force:
            return _fail(f"{args.out} exists; pass --force to replace it", USAGE_EXIT)
        if os.path.abspath(args.out) == os.path.abspath(args.weights):
            return _fail("--out must differ from the input", USAGE_EXIT)
        if args.method != "dub-tol" and not args.ratios:
            raise PruneSpecError(f"--method {args.method} needs --ratios")
        state = extract_state_dict(load_checkpoint(args.weights, args.trust_checkpoint), args.weights)
        geo = CrossbarGeometry(args.tile, args.slices)
        convs = {k: v for k, v in state.items() if v.dim() == 4 and v.is_floating_point()}
        before = level_histogram([crossbar_levels(v, geo) for v in convs.values()], geo)
        res = prune_tensors(convs, parse_ratio_spec(args.ratios) if args.ratios else 0.0, geo, method=args.method,
                            skip_q0=args.skip_level0_loosening, tol=args.tol)
        after = level_histogram([crossbar_levels(v, geo) for v in convs.values()], geo)
        atomic_save(state, args.out, force=True)
        summary = {"method": args.method, "out": args.out, "tile": args.tile, "slices": args.slices,
                   "levelHistogramBefore": before, "levelHistogram": after,
                   "adcEnergyImprovement": improvement_from_histogram(after, geo), **res.summary()}
        if args.json:
            print(json.dumps(summary))
        else:
            for lr in res.layers:
                print(f"{lr.name:40s} ratio {lr.ratio if lr.ratio is not None else '-':>6}  zeros {lr.zeros}/{lr.weights}")
            imp = summary["adcEnergyImprovement"]
            print(f"ADC energy improvement (paper law, T={args.tile}): {imp:.3f}x" if imp else "ADC energy improvement: all crossbars free")
            print(f"wrote {args.out}")
        return 0
    except (ModelError, PruneSpecError) as ex:
        return _fail(str(ex))


def _events_file_argument(argv: Sequence[str]) -> Optional[str]:
    """--events-file from the raw arguments, so that a usage error of the parser lands in the file too."""
    for i, arg in enumerate(argv):
        if arg == "--events-file" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--events-file="):
            return arg.split("=", 1)[1]
    return None


def main(argv: Optional[Sequence[str]] = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    events_file = _events_file_argument(raw) if raw[:1] == ["finetune"] else None
    if events_file and int(os.environ.get("RANK", "0")) == 0:
        try:
            open_events_file(events_file)
        except OSError as ex:
            return _fail(f"--events-file: cannot open {events_file} ({ex.strerror})", USAGE_EXIT)
    try:
        args = build_parser().parse_args(raw)
        if args.command == "finetune":
            return cmd_finetune(args)
        if args.command == "prune":
            return cmd_prune(args)
        if args.command == "tradeoff":
            return cmd_tradeoff(args)
        if args.command == "repro-fashion":
            import json

            from .data import DatasetError
            from .repro_fashion import METHODS, run_repro_fashion
            methods = [m for m in args.methods.split(",") if m]
            unknown = [m for m in methods if m not in METHODS]
            if unknown:
                return _fail(f"--methods: unknown {', '.join(unknown)} (known: {', '.join(METHODS)})", USAGE_EXIT)
            try:
                return run_repro_fashion(quick=args.quick, seed=args.seed, threads=args.threads, verbose=args.verbose,
                                         params=json.loads(args.params) if args.params else None, data=args.data,
                                         holdout=args.holdout, methods=methods, dense_in=args.dense, dense_out=args.save_dense)
            except DatasetError as ex:
                return _fail(str(ex), 1, dataset=True)
        from .repro import run_repro
        return run_repro(quick=args.quick, seed=args.seed, threads=args.threads, verbose=args.verbose)
    finally:
        close_events_file()


if __name__ == "__main__":
    sys.exit(main())
