"""Attention for the proxy model: PyTorch's SDPA by default, or the Triton FlashAttention-2 kernel on CUDA when
asked for (`set_attention_backend("triton")`; on an H200 it was correct but 1.5-1.7x slower than SDPA).

The kernel covers what the model needs (causal, fp16/bf16, head_dim 16-128, a power of two); anything else, and every
CPU run, goes to torch.nn.functional.scaled_dot_product_attention, which is also the reference it is tested against.
"""

from __future__ import annotations

import importlib.util

import torch
import torch.nn.functional as F

TRITON_AVAILABLE = importlib.util.find_spec("triton") is not None and torch.cuda.is_available()
_backend = "auto"


def set_attention_backend(name: str) -> None:
    """'auto' (PyTorch's SDPA, which was 1.5 to 1.7x faster than the Triton kernel on an H200: docs/train_stub.md),
    'sdpa' (the same, named), or 'triton' (the Triton kernel wherever it applies)."""
    global _backend
    if name not in ("auto", "triton", "sdpa"):
        raise ValueError(f"unknown attention backend {name!r}")
    _backend = name


def kernel_supports(q: torch.Tensor) -> bool:
    head_dim = q.shape[-1]
    return (_backend == "triton" and TRITON_AVAILABLE and q.is_cuda and q.dtype in (torch.float16, torch.bfloat16)
            and head_dim in (16, 32, 64, 128))


def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T / sqrt(d), causal) v for (batch, heads, seq, head_dim) tensors."""
    if kernel_supports(q):
        from train_stub.kernels.flash_attention import flash_attention

        return flash_attention(q, k, v)
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)
