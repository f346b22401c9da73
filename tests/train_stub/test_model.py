"""Model parts against plain reference formulas."""

from __future__ import annotations

import math

import pytest
import torch

from train_stub.kernels import causal_attention
from train_stub.model import CONFIGS, GPT, GPTConfig, RMSNorm, apply_rope, rope_tables


def reference_attention(q, k, v):
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    mask = torch.ones(q.shape[-2], k.shape[-2], dtype=torch.bool, device=q.device).tril()
    return scores.masked_fill(~mask, float("-inf")).softmax(-1) @ v


def test_rmsnorm_matches_the_formula():
    norm = RMSNorm(8, 1e-5)
    norm.weight.data = torch.randn(8)
    x = torch.randn(3, 8)
    expected = x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * norm.weight
    torch.testing.assert_close(norm(x), expected)


def test_rope_keeps_norms_and_depends_only_on_relative_position():
    cos, sin = rope_tables(32, 16, 10_000.0)
    q, k = torch.randn(16), torch.randn(16)
    at = lambda x, pos: apply_rope(x.expand(1, 1, 32, 16), cos, sin)[0, 0, pos]  # noqa: E731
    torch.testing.assert_close(at(q, 5).norm(), q.norm())
    torch.testing.assert_close(at(q, 7) @ at(k, 3), at(q, 14) @ at(k, 10), rtol=1e-4, atol=1e-4)


def test_attention_fallback_matches_reference():
    q, k, v = (torch.randn(2, 3, 17, 8) for _ in range(3))
    torch.testing.assert_close(causal_attention(q, k, v), reference_attention(q, k, v), rtol=1e-5, atol=1e-5)


def test_124m_has_gpt2_small_size():
    model = GPT(GPTConfig(vocab_size=50304, **CONFIGS["124M"]))
    assert abs(model.num_params(non_embedding=False) - 124e6) < 1.5e6
    assert model.config.ff_dim == 2048


def test_grouped_query_attention_and_causality():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=128, **CONFIGS["tiny"]))
    assert model.blocks[0].attn.qkv.out_features == (4 + 2 * 2) * 16
    x = torch.randint(0, 128, (1, 20))
    changed = x.clone()
    changed[0, 15] = (x[0, 15] + 1) % 128
    logits, _ = model(x)
    logits_changed, _ = model(changed)
    torch.testing.assert_close(logits[0, :15], logits_changed[0, :15])  # the future does not leak backwards
    assert not torch.allclose(logits[0, 15:], logits_changed[0, 15:])


def test_z_loss_adds_the_squared_normaliser():
    torch.manual_seed(0)
    config = GPTConfig(vocab_size=64, **CONFIGS["tiny"])
    x = torch.randint(0, 64, (2, 16))
    torch.manual_seed(1)
    plain = GPT(config)
    torch.manual_seed(1)
    with_z = GPT(GPTConfig(**{**config.__dict__, "z_loss": 1e-2}))
    logits, loss = plain(x, x)
    _, loss_z = with_z(x, x)
    torch.testing.assert_close(loss_z - loss, 1e-2 * torch.logsumexp(logits, -1).pow(2).mean())


def test_invalid_head_split():
    with pytest.raises(ValueError):
        GPTConfig(d_model=64, n_head=5)


def test_the_ablation_proxy_is_tiny_with_its_own_output_matrix():
    tied = GPT(GPTConfig(vocab_size=128, **CONFIGS["tiny"]))
    untied = GPT(GPTConfig(vocab_size=128, **CONFIGS["tiny-untied"]))
    assert tied.lm_head.weight is tied.embed.weight
    assert untied.lm_head.weight is not untied.embed.weight
    # the same network otherwise: one more table of vocab x d_model parameters, nothing else
    assert untied.num_params(non_embedding=False) - tied.num_params(non_embedding=False) == 128 * 64
