#!/usr/bin/env python3
"""PyTorch DistributedDataParallel reference for synclab's 2-worker bsp CNN job: two
processes on 127.0.0.1, gloo backend, one thread each, batch 100 of random 28x28 images
per worker, Adam lr 1e-4. After a few warm-up steps, times --steps synchronous steps and
prints `ddp_steps_per_s <value>` from rank 0 on the last line. Exit code 3 when PyTorch
is not importable."""
import argparse
import os
import socket
import sys
import time

try:
    import torch
    import torch.distributed as dist
    import torch.multiprocessing as mp
    from torch import nn
    from torch.nn.parallel import DistributedDataParallel
except ImportError:
    print("PyTorch is not importable (Debian package python3-torch)", file=sys.stderr)
    sys.exit(3)

WORLD = 2


def cnn():
    # The same layers as synclab's cnn and scripts/bench_torch_cnn.py: 3,274,634 parameters.
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 1024), nn.ReLU(), nn.Dropout(0.5), nn.Linear(1024, 10))


def worker(rank, port, steps, warmup):
    # One thread per worker, as synclab's job (train.threads: 1); the two workers share the cores.
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    torch.manual_seed(1)  # DDP broadcasts rank 0's parameters anyway; same seed keeps it obvious
    model = DistributedDataParallel(cnn())
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    # Each worker its own fixed random batch, made once: data loading is not part of the figure.
    gen = torch.Generator().manual_seed(100 + rank)
    x = torch.rand(100, 1, 28, 28, generator=gen)
    y = torch.randint(0, 10, (100,), generator=gen)

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()  # DDP all-reduces (averages) the gradients here
        opt.step()

    for _ in range(warmup):
        step()
    # Start both workers together; the all-reduce in every step keeps them in lockstep after.
    dist.barrier()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    dist.barrier()
    elapsed = time.perf_counter() - start
    if rank == 0:
        print(f"torch {torch.__version__} DDP gloo: {WORLD} workers x 1 thread, {steps} steps in {elapsed:.2f} s",
              file=sys.stderr)
        print(f"ddp_steps_per_s {steps / elapsed:.3f}", flush=True)
    dist.destroy_process_group()


def free_port():
    # Ask the OS for an unused port; there is a small race until rank 0 binds it, fine here.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    # One thread per worker, as synclab's: Debian's torch also runs a BLAS pool that
    # set_num_threads does not bound, so pin OpenMP, OpenBLAS and MKL in the children.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    mp.spawn(worker, args=(free_port(), args.steps, args.warmup), nprocs=WORLD, join=True)


if __name__ == "__main__":
    main()
