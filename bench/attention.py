"""Causal attention forward+backward time: the Triton FlashAttention-2 kernel against PyTorch SDPA. Needs a GPU.

For each sequence length (batch x seq = 16k tokens, 12 heads of 64 and 8 heads of 128, bf16), both are checked
against each other, then timed with triton.testing.do_bench (median of CUDA-event timings after warm-up).

    python bench/attention.py
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import triton

from train_stub.kernels.flash_attention import flash_attention


def fwd_bwd(fn, q, k, v, grad):
    def run():
        for t in (q, k, v):
            t.grad = None
        fn(q, k, v).backward(grad)
    return run


def main() -> None:
    print(f"device: {torch.cuda.get_device_name()}, torch {torch.__version__}, triton {triton.__version__}")
    print(f"{'seq':>6} {'heads x dim':>11} {'triton ms':>10} {'sdpa ms':>9} {'sdpa/triton':>11} {'triton TFLOP/s':>14}")
    for head_dim, heads in ((64, 12), (128, 8)):
        for seq in (1024, 2048, 4096, 8192):
            batch = max(1, 16384 // seq)
            q, k, v = (torch.randn(batch, heads, seq, head_dim, device="cuda", dtype=torch.bfloat16,
                                   requires_grad=True) for _ in range(3))
            grad = torch.randn_like(q)
            mine = flash_attention(q, k, v)
            theirs = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            error = float((mine.float() - theirs.float()).norm() / theirs.float().norm())
            assert error < 1e-2, error
            sdpa = lambda a, b, c: F.scaled_dot_product_attention(a, b, c, is_causal=True)  # noqa: E731
            t_triton = triton.testing.do_bench(fwd_bwd(flash_attention, q, k, v, grad), return_mode="median")
            t_sdpa = triton.testing.do_bench(fwd_bwd(sdpa, q, k, v, grad), return_mode="median")
            # causal: half of 4 * b * h * s^2 * d forward, and 2.5x that for forward + backward (FA2 paper's count)
            flops = 3.5 * 2 * batch * heads * seq * seq * head_dim
            print(f"{seq:>6} {heads:>4} x {head_dim:<4} {t_triton:>10.3f} {t_sdpa:>9.3f} {t_sdpa / t_triton:>10.2f}x "
                  f"{flops / t_triton / 1e9:>14.0f}")


if __name__ == "__main__":
    main()
