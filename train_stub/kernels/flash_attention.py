"""Causal FlashAttention-2 in Triton (Dao 2023): forward with online softmax, backward recomputing the probabilities.

Layout: q, k, v, o are (batch, heads, seq, head_dim), contiguous, fp16 or bf16. Scores are kept in base-2 units
(scaled by log2(e) / sqrt(head_dim)) so the kernels use exp2, which maps to one hardware instruction. The forward
saves only the row log-sum-exp; the backward recomputes each probability block from it, as FA2 does, in two kernels:
one per key block (dK, dV, looping over the query blocks at or below the diagonal) and one per query block (dQ), so
that no block of output is written by two programs and no atomics are needed.
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

LOG2_E = 1.4426950408889634


@triton.jit
def _load_tile(ptr, rows, dims, T, HEAD_DIM: tl.constexpr):
    """Rows `rows` of a (T, HEAD_DIM) matrix at `ptr`; rows past the end read as zeros."""
    return tl.load(ptr + rows[:, None] * HEAD_DIM + dims[None, :], mask=rows[:, None] < T, other=0.0)


@triton.jit
def _load_row_stats(LSE, DELTA, head, rows, T):
    """The saved log-sum-exp and delta of `rows`; past the end, +inf (so P = 0) and 0."""
    lse = tl.load(LSE + head * T + rows, mask=rows < T, other=float("inf"))
    return lse, tl.load(DELTA + head * T + rows, mask=rows < T, other=0.0)


@triton.jit
def _online_softmax_step(q, K, V, cols, rows, dims, m_i, l_i, acc, qk_scale, T, HEAD_DIM: tl.constexpr,
                         MASKED: tl.constexpr):
    """Fold one block of keys into the running max `m_i`, normaliser `l_i` and output `acc` (FA2 algorithm 1)."""
    k = _load_tile(K, cols, dims, T, HEAD_DIM)
    v = _load_tile(V, cols, dims, T, HEAD_DIM)
    s = tl.dot(q, tl.trans(k)) * qk_scale
    if MASKED:
        s = tl.where((rows[:, None] >= cols[None, :]) & (cols[None, :] < T), s, float("-inf"))
    m_new = tl.maximum(m_i, tl.max(s, 1))
    p = tl.exp2(s - m_new[:, None])
    alpha = tl.exp2(m_i - m_new)
    return m_new, l_i * alpha + tl.sum(p, 1), acc * alpha[:, None] + tl.dot(p.to(v.dtype), v)


@triton.jit
def _forward_kernel(Q, K, V, O, LSE, qk_scale, T,
                    HEAD_DIM: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    # torch.compile passes a Python float as fp64; the running max must stay fp32 across the loop.
    qk_scale = tl.cast(qk_scale, tl.float32)
    start_m = tl.program_id(0) * BLOCK_M
    base = tl.program_id(1).to(tl.int64) * T * HEAD_DIM
    rows = start_m + tl.arange(0, BLOCK_M)
    dims = tl.arange(0, HEAD_DIM)
    q = _load_tile(Q + base, rows, dims, T, HEAD_DIM)
    m_i = tl.full([BLOCK_M], float("-inf"), tl.float32)
    l_i = tl.zeros([BLOCK_M], tl.float32)
    acc = tl.zeros([BLOCK_M, HEAD_DIM], tl.float32)
    # Key blocks wholly below the diagonal need no mask; the ones crossing it do. Splitting the loop saves the
    # mask arithmetic on most blocks.
    for start_n in range(0, start_m, BLOCK_N):
        m_i, l_i, acc = _online_softmax_step(q, K + base, V + base, start_n + tl.arange(0, BLOCK_N), rows, dims,
                                             m_i, l_i, acc, qk_scale, T, HEAD_DIM, False)
    for start_n in range(start_m, tl.minimum(start_m + BLOCK_M, T), BLOCK_N):
        m_i, l_i, acc = _online_softmax_step(q, K + base, V + base, start_n + tl.arange(0, BLOCK_N), rows, dims,
                                             m_i, l_i, acc, qk_scale, T, HEAD_DIM, True)
    acc = acc / l_i[:, None]
    tl.store(O + base + rows[:, None] * HEAD_DIM + dims[None, :], acc.to(O.dtype.element_ty), mask=rows[:, None] < T)
    tl.store(LSE + tl.program_id(1).to(tl.int64) * T + rows, m_i + tl.log2(l_i), mask=rows < T)


@triton.jit
def _recompute_p_and_ds(q, k, v, do, lse, delta, rows, cols, qk_scale, T):
    """One block of the backward: P from the saved log-sum-exp (causal and length masked), and
    dS = P * (dO V^T - delta), FA2 algorithm 2."""
    p = tl.exp2(tl.dot(q, tl.trans(k)) * qk_scale - lse[:, None])
    p = tl.where((rows[:, None] >= cols[None, :]) & (cols[None, :] < T), p, 0.0)
    return p, p * (tl.dot(do, tl.trans(v)) - delta[:, None])


@triton.jit
def _backward_dkdv_kernel(Q, K, V, DO, LSE, DELTA, DK, DV, qk_scale, sm_scale, T,
                          HEAD_DIM: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    qk_scale, sm_scale = tl.cast(qk_scale, tl.float32), tl.cast(sm_scale, tl.float32)  # fp64 under torch.compile
    start_n = tl.program_id(0) * BLOCK_N
    head = tl.program_id(1).to(tl.int64)
    base = head * T * HEAD_DIM
    cols = start_n + tl.arange(0, BLOCK_N)
    dims = tl.arange(0, HEAD_DIM)
    k = _load_tile(K + base, cols, dims, T, HEAD_DIM)
    v = _load_tile(V + base, cols, dims, T, HEAD_DIM)
    dk = tl.zeros([BLOCK_N, HEAD_DIM], tl.float32)
    dv = tl.zeros([BLOCK_N, HEAD_DIM], tl.float32)
    for start_m in range((start_n // BLOCK_M) * BLOCK_M, T, BLOCK_M):  # query blocks at or below the diagonal
        rows = start_m + tl.arange(0, BLOCK_M)
        q = _load_tile(Q + base, rows, dims, T, HEAD_DIM)
        do = _load_tile(DO + base, rows, dims, T, HEAD_DIM)
        lse, delta = _load_row_stats(LSE, DELTA, head, rows, T)
        p, ds = _recompute_p_and_ds(q, k, v, do, lse, delta, rows, cols, qk_scale, T)
        dv += tl.dot(tl.trans(p.to(do.dtype)), do)
        dk += tl.dot(tl.trans(ds.to(q.dtype)), q)
    tl.store(DK + base + cols[:, None] * HEAD_DIM + dims[None, :], (dk * sm_scale).to(DK.dtype.element_ty),
             mask=cols[:, None] < T)
    tl.store(DV + base + cols[:, None] * HEAD_DIM + dims[None, :], dv.to(DV.dtype.element_ty), mask=cols[:, None] < T)


@triton.jit
def _backward_dq_kernel(Q, K, V, DO, LSE, DELTA, DQ, qk_scale, sm_scale, T,
                        HEAD_DIM: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    qk_scale, sm_scale = tl.cast(qk_scale, tl.float32), tl.cast(sm_scale, tl.float32)  # fp64 under torch.compile
    start_m = tl.program_id(0) * BLOCK_M
    head = tl.program_id(1).to(tl.int64)
    base = head * T * HEAD_DIM
    rows = start_m + tl.arange(0, BLOCK_M)
    dims = tl.arange(0, HEAD_DIM)
    q = _load_tile(Q + base, rows, dims, T, HEAD_DIM)
    do = _load_tile(DO + base, rows, dims, T, HEAD_DIM)
    lse, delta = _load_row_stats(LSE, DELTA, head, rows, T)
    dq = tl.zeros([BLOCK_M, HEAD_DIM], tl.float32)
    for start_n in range(0, tl.minimum(start_m + BLOCK_M, T), BLOCK_N):  # key blocks at or left of the diagonal
        cols = start_n + tl.arange(0, BLOCK_N)
        k = _load_tile(K + base, cols, dims, T, HEAD_DIM)
        v = _load_tile(V + base, cols, dims, T, HEAD_DIM)
        _, ds = _recompute_p_and_ds(q, k, v, do, lse, delta, rows, cols, qk_scale, T)
        dq += tl.dot(ds.to(k.dtype), k)
    tl.store(DQ + base + rows[:, None] * HEAD_DIM + dims[None, :], (dq * sm_scale).to(DQ.dtype.element_ty),
             mask=rows[:, None] < T)


# Tile sizes chosen on an H100 for head_dim 64 and 128 (docs/train_stub.md): 128 query rows by 64 keys forward,
# 64 by 64 backward, where five tiles are live at once.
FORWARD_BLOCKS = (128, 64)
BACKWARD_BLOCKS = (64, 64)


class FlashAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
        batch, heads, seq, head_dim = q.shape
        sm_scale = 1.0 / math.sqrt(head_dim)
        out = torch.empty_like(q)
        lse = torch.empty((batch * heads, seq), device=q.device, dtype=torch.float32)
        block_m, block_n = FORWARD_BLOCKS
        _forward_kernel[(triton.cdiv(seq, block_m), batch * heads)](
            q, k, v, out, lse, sm_scale * LOG2_E, seq,
            HEAD_DIM=head_dim, BLOCK_M=block_m, BLOCK_N=block_n, num_warps=4 if head_dim <= 64 else 8, num_stages=3)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.sm_scale = sm_scale
        return out

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        q, k, v, out, lse = ctx.saved_tensors
        grad_out = grad_out.contiguous()
        batch, heads, seq, head_dim = q.shape
        delta = (out.float() * grad_out.float()).sum(-1).view(batch * heads, seq)  # rowsum(dO * O), FA2 eq. (4)
        dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
        block_m, block_n = BACKWARD_BLOCKS
        scales = (ctx.sm_scale * LOG2_E, ctx.sm_scale, seq)
        meta = dict(HEAD_DIM=head_dim, BLOCK_M=block_m, BLOCK_N=block_n, num_warps=4, num_stages=2)
        _backward_dkdv_kernel[(triton.cdiv(seq, block_n), batch * heads)](
            q, k, v, grad_out, lse, delta, dk, dv, *scales, **meta)
        _backward_dq_kernel[(triton.cdiv(seq, block_m), batch * heads)](
            q, k, v, grad_out, lse, delta, dq, *scales, **meta)
        return dq, dk, dv


def flash_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Causal attention softmax(q k^T / sqrt(d)) v with the Triton kernels above."""
    return FlashAttention.apply(q, k, v)
