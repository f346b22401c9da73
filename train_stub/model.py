"""Full definition of the proxy GPT, all of it in this single file.

A decoder-only transformer in the LLaMA style: pre-norm RMSNorm, rotary position embeddings, SwiGLU feed-forward,
no biases, optional grouped-query attention and z-loss, GPT-2 initialisation. Attention runs the Triton
FlashAttention-2 kernel on a CUDA GPU and PyTorch's scaled_dot_product_attention elsewhere (train_stub/kernels).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from train_stub.kernels import causal_attention


@dataclass(frozen=True)
class GPTConfig:
    vocab_size: int = 50304  # GPT-2's 50257, padded up to a multiple of 64 for efficient matrix shapes (nanoGPT)
    seq_len: int = 1024
    n_layer: int = 12
    n_head: int = 12
    n_kv_head: int | None = None  # grouped-query attention (Ainslie et al. 2023) when fewer than n_head
    d_model: int = 768
    # SwiGLU hidden size: 8/3 of d_model keeps the parameter count of a 4x GELU MLP (Shazeer 2020), rounded up to a
    # multiple of 64 for the matrix units.
    d_ff: int | None = None
    rope_base: float = 10_000.0  # RoFormer (Su et al. 2021)
    norm_eps: float = 1e-5
    tie_embeddings: bool = True
    z_loss: float = 0.0  # PaLM (Chowdhery et al. 2022) uses 1e-4: keeps the softmax normaliser near 1

    @property
    def kv_heads(self) -> int:
        return self.n_kv_head or self.n_head

    @property
    def ff_dim(self) -> int:
        return self.d_ff or 64 * math.ceil(8 * self.d_model / 3 / 64)

    def __post_init__(self) -> None:
        if self.d_model % self.n_head or self.n_head % self.kv_heads:
            raise ValueError("d_model must divide by n_head, and n_head by n_kv_head")


# Named sizes: "tiny" for CPU tests, "124M" as GPT-2 small (12 layers, 768 wide, 12 heads).
# "tiny-untied" is the CPU ablation's proxy (docs/quality.md): tiny with its own output matrix. Tied to an 8,192-token
# table 64 wide, tiny's seeds leave the unigram stage at different speeds and keep that lead to the end (two seeds on
# one arm 0.057 bits/byte apart after 2M tokens, the gap already there at 250 steps); untied, the same two seeds
# end 0.015 apart, both below the better tied one.
CONFIGS = {
    "tiny": dict(n_layer=2, n_head=4, n_kv_head=2, d_model=64, seq_len=64),
    "tiny-untied": dict(n_layer=2, n_head=4, n_kv_head=2, d_model=64, seq_len=64, tie_embeddings=False),
    "mini": dict(n_layer=4, n_head=4, d_model=256, seq_len=256),
    "20M": dict(n_layer=6, n_head=6, d_model=384, seq_len=512),
    "124M": dict(n_layer=12, n_head=12, d_model=768, seq_len=1024),
}


class RMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * weight (Zhang & Sennrich 2019): LayerNorm without centring or bias."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, (x.shape[-1],), self.weight, self.eps)


def rope_tables(seq_len: int, head_dim: int, base: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of position x frequency, shape (seq_len, head_dim / 2); frequency i is base^(-2i / head_dim)."""
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    angles = torch.outer(torch.arange(seq_len, dtype=torch.float32), inv_freq)
    return angles.cos(), angles.sin()


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate each pair (x[i], x[i + d/2]) of every head by its position's angle. x: (batch, heads, seq, head_dim)."""
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half].float(), x[..., half:].float()
    cos, sin = cos[: x.shape[-2]], sin[: x.shape[-2]]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).type_as(x)


class Attention(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.n_head, self.n_kv_head = config.n_head, config.kv_heads
        self.head_dim = config.d_model // config.n_head
        self.qkv = nn.Linear(config.d_model, (self.n_head + 2 * self.n_kv_head) * self.head_dim, bias=False)
        self.out = nn.Linear(config.d_model, config.d_model, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        batch, seq, _ = x.shape
        q, k, v = self.qkv(x).split(
            [self.n_head * self.head_dim, self.n_kv_head * self.head_dim, self.n_kv_head * self.head_dim], dim=-1)
        q = q.view(batch, seq, self.n_head, self.head_dim).transpose(1, 2)
        k = k.view(batch, seq, self.n_kv_head, self.head_dim).transpose(1, 2)
        v = v.view(batch, seq, self.n_kv_head, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if self.n_kv_head != self.n_head:  # each key/value head serves n_head / n_kv_head query heads
            k = k.repeat_interleave(self.n_head // self.n_kv_head, dim=1)
            v = v.repeat_interleave(self.n_head // self.n_kv_head, dim=1)
        y = causal_attention(q, k, v)
        return self.out(y.transpose(1, 2).reshape(batch, seq, -1))


class SwiGLU(nn.Module):
    """down(silu(gate(x)) * up(x)) (Shazeer 2020, "GLU Variants Improve Transformer")."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.gate_up = nn.Linear(config.d_model, 2 * config.ff_dim, bias=False)
        self.down = nn.Linear(config.ff_dim, config.d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up(x).chunk(2, dim=-1)
        return self.down(F.silu(gate) * up)


class Block(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(config.d_model, config.norm_eps)
        self.attn = Attention(config)
        self.mlp_norm = RMSNorm(config.d_model, config.norm_eps)
        self.mlp = SwiGLU(config)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.attn_norm(x), cos, sin)
        return x + self.mlp(self.mlp_norm(x))


class GPT(nn.Module):
    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.d_model)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.norm = RMSNorm(config.d_model, config.norm_eps)
        self.lm_head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.lm_head.weight = self.embed.weight
        cos, sin = rope_tables(config.seq_len, config.d_model // config.n_head, config.rope_base)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.apply(self._init_weights)
        # GPT-2: residual projections scaled by 1/sqrt(2 * n_layer), since each layer adds two of them to the stream.
        for block in self.blocks:
            assert isinstance(block, Block)
            for projection in (block.attn.out.weight, block.mlp.down.weight):
                nn.init.normal_(projection, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)  # GPT-2's initialisation (Radford et al. 2019)

    def num_params(self, *, non_embedding: bool = True) -> int:
        """Parameters, by default without the embedding table (the usual count for scaling laws and MFU)."""
        total = sum(p.numel() for p in self.parameters())
        return total - self.embed.weight.numel() if non_embedding else total

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None,
                reduction: str = "mean") -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits for `idx` (batch, seq); with `targets`, also the cross-entropy loss (plus z-loss when set)."""
        x = self.embed(idx)
        for block in self.blocks:
            x = block(x, self.rope_cos, self.rope_sin)
        logits = self.lm_head(self.norm(x)).float()
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1), reduction=reduction)
        if self.config.z_loss and reduction == "mean":
            loss = loss + self.config.z_loss * torch.logsumexp(logits, dim=-1).pow(2).mean()
        return logits, loss

    def flops_per_token(self) -> float:
        """Training FLOPs per token: 6N for the matrix products plus 12 * layers * d_model * seq for attention
        (PaLM, Chowdhery et al. 2022, appendix B; the estimate nanoGPT's MFU uses). N counts the output projection,
        which the embedding table is when tied, but not an untied table, whose lookup costs no FLOPs."""
        c = self.config
        matmul_params = self.num_params(non_embedding=not c.tie_embeddings)
        return 6 * matmul_params + 12 * c.n_layer * c.d_model * c.seq_len
