"""crossbar_lens_train.launch: torchrun with Debian's torch 1.13 fixed, and --standalone on a free port."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

PYTHON_DIR = Path(__file__).resolve().parents[1]

WORKER = """
import os
import torch.distributed as dist
dist.init_process_group("gloo")
print("rank", os.environ["RANK"], "of", dist.get_world_size(), flush=True)
dist.destroy_process_group()
"""


def test_standalone_runs_beside_a_job_that_holds_torchruns_fixed_port(tmp_path):
    """torch 1.13's --standalone always rendezvouses on localhost:29400; a second job there hangs or fails."""
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        holder.bind(("0.0.0.0", 29400))
        holder.listen()
    except OSError:
        pass  # something else holds it already: the case this test is about
    try:
        env = dict(os.environ, PYTHONPATH=str(PYTHON_DIR))
        job = subprocess.Popen([sys.executable, "-m", "crossbar_lens_train.launch", "--standalone", "--nproc_per_node", "2", str(script)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            out, err = job.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(job.pid, signal.SIGKILL)  # the agent and its workers
            out, err = job.communicate()
    finally:
        holder.close()
    assert job.returncode == 0, err[-2000:]
    assert sorted(line for line in out.splitlines() if line.startswith("rank")) == ["rank 0 of 2", "rank 1 of 2"]
