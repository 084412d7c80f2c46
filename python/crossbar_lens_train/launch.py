"""`python3 -m crossbar_lens_train.launch ARGS` = `torchrun ARGS`, with two fixes for Debian's torch 1.13.

Debian's torch 1.13 `torchrun` dies in its own argument parsing on Python 3.11
(`AttributeError: 'NoneType' object has no attribute 'get'`): Std.from_str looks the value up by
iterating the IntFlag, and Python 3.11 no longer yields the zero (NONE) and multi-bit (ALL) members,
so "--redirects 0" (the default) becomes None. This wrapper makes the lookup `Std(int(v))` and then
runs torchrun's own main(); on a torch without the bug it changes nothing.

It also makes `--standalone` take a free port: torch 1.13 puts every standalone job's rendezvous on
localhost:29400, so a second job on the same machine (two fine-tunes, or a test beside a run) fails
with "Address already in use". `--standalone` becomes torchrun's documented form for stacked
single-node jobs, `--rdzv_backend=c10d --rdzv_endpoint=localhost:0`.
"""
from __future__ import annotations

import argparse
import re
import sys
import uuid
from typing import Dict, Union


def _patch() -> None:
    from torch.distributed.elastic.multiprocessing import api

    std = api.Std
    if std.from_str("0") is not None:
        return

    def from_str(vm: str) -> Union["api.Std", Dict[int, "api.Std"]]:
        if re.match(api._VALUE_REGEX, vm):
            return std(int(vm))
        if re.match(api._MAPPING_REGEX, vm):
            return {int(i): std(int(v)) for i, v in (m.split(":") for m in vm.split(","))}
        raise ValueError(f"{vm} does not match: <{api._VALUE_REGEX}> or <{api._MAPPING_REGEX}>")

    std.from_str = staticmethod(from_str)  # type: ignore[method-assign]


def main() -> None:
    _patch()
    from torch.distributed import run as torchrun

    run = torchrun.run

    def run_standalone_on_a_free_port(args: argparse.Namespace) -> None:
        if args.standalone:
            args.standalone = False
            args.rdzv_backend, args.rdzv_endpoint, args.rdzv_id = "c10d", "localhost:0", str(uuid.uuid4())
        run(args)

    torchrun.run = run_standalone_on_a_free_port  # main() looks run up when it calls it
    sys.argv[0] = "torchrun"
    torchrun.main()


if __name__ == "__main__":
    main()
