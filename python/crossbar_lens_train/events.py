"""The JSON-lines protocol: one object per line, only on rank 0, flushed at once.

Events: start, epoch, prune, checkpoint, stopped, done, error (see README.md in this folder).
Non-finite numbers are written as null (strict JSON). The lines go to stdout, or with
`--events-file PATH` to that file instead, flushed per line: the extension runs the engine as a VS
Code task whose stdout is a terminal the user reads, and tails the file for the events. The terminal
then gets one readable line per event (`ProgressText`), worded as `crossbar-lens finetune` prints
its progress (src/cli/finetuneCommand.ts, src/training/pytorch/protocol.ts).
"""
from __future__ import annotations

import json
import math
import sys
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Dict, IO, Optional

_events_file: Optional[IO[str]] = None


def open_events_file(path: str) -> None:
    """Append every event line to `path` instead of stdout (line-buffered: a reader tailing it sees whole lines)."""
    global _events_file
    close_events_file()
    _events_file = open(path, "a", encoding="utf-8", buffering=1)


def close_events_file() -> None:
    global _events_file
    if _events_file is not None:
        _events_file.close()
        _events_file = None


def _clean(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return _clean(value.item())
    return value


def _fixed(value: float, digits: int) -> str:
    """JavaScript's toFixed: ties round away from zero on the exact binary value (Python's format rounds
    them to even), so that a number reads the same as in the CLI."""
    return str(Decimal(value + 0.0).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def _js_number(value: Any) -> str:
    """A number as JavaScript's String(n) writes it (88.0 -> 88)."""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def format_improvement(value: Optional[float]) -> str:
    """src/cli/format.ts formatImprovement: None is the null of a model whose crossbars are all empty."""
    if value is None:
        return "∞ (all crossbars empty)"
    return _fixed(value, 1 if value >= 100 else 2 if value >= 10 else 3) + "×"


def _figures(e: Dict[str, Any]) -> str:
    """The tail of an epoch line: loss, held-out accuracy, ADC improvement (those present)."""
    parts = []
    if e.get("loss") is not None:
        parts.append(f"loss {_fixed(e['loss'], 4)}")
    if e.get("testAccuracy") is not None:
        parts.append(f"test {_fixed(e['testAccuracy'], 2)} %")
    if "adcEnergyImprovement" in e:
        parts.append(f"ADC {format_improvement(e['adcEnergyImprovement'])}")
    return "  ".join(parts)


class ProgressText:
    """One readable line (or a few, at the end) per event for a person watching the terminal; None for
    events that have nothing to say there (checkpoints; errors, which stderr already shows)."""

    def __init__(self) -> None:
        self.start: Dict[str, Any] = {}

    def __call__(self, e: Dict[str, Any]) -> Optional[str]:
        kind = e.get("event")
        if kind == "start":
            self.start = e
            world = e.get("world") or 1
            resumed = e.get("resumeFrom")
            return (f"PyTorch {e.get('torch', '?')} on {e.get('device', '?')}{f' × {world} processes' if world > 1 else ''}; "
                    f"{e.get('data', '')} ({e.get('train', '?')} training / {e.get('test', '?')} held-out images); "
                    f"{len(e.get('convLayers') or [])} conv layers at T={e.get('tile')}"
                    + (f"; resumed at {resumed['phase']} epoch {resumed['epoch']}" if resumed else ""))
        if kind == "epoch":
            # src/cli/finetuneCommand.ts describeEpoch
            return "  ".join(p for p in (f"{e.get('phase', '')} {e.get('epoch', '')}/{e.get('epochs', '')}".strip(), _figures(e)) if p)
        if kind == "prune":
            layers = ", ".join(f"{l['name']} {_js_number(l['ratio'])}%" if l.get("ratio") is not None
                               else f"{l['name']} {_fixed(100 * l['zeros'] / max(l['weights'], 1), 1)}% zeros"
                               for l in e.get("layers") or [])
            title = "D.U.B. prune" if e.get("phase") == "dub" else "Unstructured prune (the baseline)"
            return f"{title}: {layers}  {_figures({k: e[k] for k in ('testAccuracy', 'adcEnergyImprovement') if k in e})}"
        if kind == "stopped":
            return (f"Training was stopped; the checkpoint {e.get('checkpoint')} ({e.get('phase')} epoch {e.get('epoch')}) "
                    "keeps the run (rerun with the same options and --resume).")
        if kind == "done":
            return self._summary(e)
        return None

    def _summary(self, e: Dict[str, Any]) -> str:
        """The table `crossbar-lens finetune` prints at the end."""
        def row(label: str, figures: Optional[Dict[str, Any]]) -> str:
            figures = figures or {}
            acc = figures.get("accuracy")
            return f"{label:<26} {(_fixed(acc, 2) if acc is not None else '-'):>7} %   {format_improvement(figures.get('adcEnergyImprovement'))}"
        start = {"accuracy": self.start.get("testAccuracy"), "adcEnergyImprovement": self.start.get("adcEnergyImprovement")}
        regularized = e.get("regularized") or {}
        lines = [f"{'model':<26} held-out acc   ADC improvement (paper law)", row("dense (start)", start),
                 # No regularize epochs: the regularized model is the start (as the extension reads it).
                 row("D.U.B. regularized", regularized if regularized.get("accuracy") is not None else start),
                 row("D.U.B. fine-tuned", e.get("dub"))]
        if e.get("unstructured"):
            lines.append(row("unstructured fine-tuned", e["unstructured"]))
        lines.append(f"wrote {e.get('out')}")
        return "\n".join(lines)


class Emitter:
    """Writes events as JSON lines (disabled on ranks other than 0): to `stream`, else to the events
    file with a readable line on stdout, else to stdout."""

    def __init__(self, enabled: bool = True, stream: Optional[IO[str]] = None) -> None:
        self.enabled = enabled
        self.stream = stream
        self.text = ProgressText()

    def emit(self, event: str, **fields: Any) -> None:
        if not self.enabled:
            return
        record = _clean({"event": event, **fields})
        line = json.dumps(record, allow_nan=False, separators=(",", ":")) + "\n"
        if self.stream is None and _events_file is not None:
            _events_file.write(line)
            _events_file.flush()
            text = self.text(record)
            if text is not None:
                sys.stdout.write(text + "\n")
                sys.stdout.flush()
            return
        stream = self.stream or sys.stdout
        stream.write(line)
        stream.flush()


def log(message: str, enabled: bool = True) -> None:
    """Notes go to stderr, so that stdout stays pure JSON lines when it is the protocol."""
    if enabled:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
