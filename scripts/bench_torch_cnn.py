#!/usr/bin/env python3
"""PyTorch's CPU training step for synclab's cnn: forward, backward and Adam on a batch of
100 random 28x28 images, on a given number of threads. Prints the mean wall-clock and
process CPU ms per step on the last line as `torch_ms_per_step <wall> <cpu>`. Exit code 3
when PyTorch is not importable."""
import argparse
import sys
import time

try:
    import torch
    from torch import nn
except ImportError:
    print("PyTorch is not importable (Debian package python3-torch)", file=sys.stderr)
    sys.exit(3)


def cnn():
    # The same layers as synclab's cnn (make_model_spec("cnn")): 3,274,634 parameters.
    return nn.Sequential(
        nn.Conv2d(1, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 1024), nn.ReLU(), nn.Dropout(0.5), nn.Linear(1024, 10))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    model = cnn()
    params = sum(p.numel() for p in model.parameters())
    assert params == 3274634, params
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(100, 1, 28, 28)
    y = torch.randint(0, 10, (100,))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(args.warmup):
        step()
    times = []
    cpu_start = time.process_time()
    for _ in range(args.steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    cpu = (time.process_time() - cpu_start) / args.steps
    times.sort()
    mean = sum(times) / len(times)
    print(f"torch {torch.__version__}: {args.threads} thread(s), {args.steps} steps, "
          f"mean {mean * 1e3:.1f} ms, median {times[len(times) // 2] * 1e3:.1f} ms, min {times[0] * 1e3:.1f} ms, "
          f"cpu {cpu * 1e3:.1f} ms",
          file=sys.stderr)
    print(f"torch_ms_per_step {mean * 1e3:.3f} {cpu * 1e3:.3f}")


if __name__ == "__main__":
    main()
