"""Model FLOPs utilisation of the 124M proxy model in bf16: training steps on random tokens, timed. Needs a GPU.

The step is train_stub.train's (AdamW fused, bf16 autocast, clipping), with torch.compile, for each attention
backend. MFU = flops_per_token x tokens/s / the GPU's dense bf16 peak (989 TFLOP/s for H100/H200 SXM).

    python bench/mfu.py [--batch 32] [--steps 30]
"""

from __future__ import annotations

import argparse
import time

import torch

from train_stub.kernels import set_attention_backend
from train_stub.model import CONFIGS, GPT, GPTConfig
from train_stub.train import TrainConfig, autocast, make_optimizer, peak_flops


def measure(backend: str, batch: int, steps: int, compile_model: bool) -> tuple[float, float]:
    set_attention_backend(backend)
    torch.manual_seed(0)
    device = torch.device("cuda")
    model = GPT(GPTConfig(vocab_size=50304, **CONFIGS["124M"])).to(device)
    optimizer = make_optimizer(model, TrainConfig(), device)
    forward = torch.compile(model) if compile_model else model
    seq = model.config.seq_len
    x = torch.randint(0, 50257, (batch, seq + 1), device=device)
    times = []
    for step in range(steps):
        torch.cuda.synchronize()
        started = time.perf_counter()
        with autocast(device):
            _, loss = forward(x[:, :-1], x[:, 1:])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        if step >= 10:
            times.append(time.perf_counter() - started)
    tokens_per_second = batch * seq / (sorted(times)[len(times) // 2])
    return tokens_per_second, model.flops_per_token() * tokens_per_second / peak_flops(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = True
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}; 124M, seq 1024, batch {args.batch}")
    for backend in ("sdpa", "triton"):
        for compile_model in (False, True):
            tps, mfu = measure(backend, args.batch, args.steps, compile_model)
            print(f"attention {backend:<6} compile {str(compile_model):<5} {tps:>10,.0f} tok/s  MFU {mfu:.1%}")


if __name__ == "__main__":
    main()
