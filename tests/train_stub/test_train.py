"""The training loop on CPU: the loss falls, the schedule has its shape, a resumed run is bit-identical."""

from __future__ import annotations

import math

import pytest
import torch

from curate.shards import load_tokenizer_file
from curate.shards import load_manifest, shard_tokenizer_path
from train_stub.model import GPT
from train_stub.train import REFERENCE_TEXT, EvalText, TrainConfig, bits_per_byte, learning_rate, train


@pytest.fixture(scope="module")
def shards(quickstart_local):
    return str(quickstart_local / "shards")


def run(shards, **overrides):
    tokenizer = load_tokenizer_file(shard_tokenizer_path(shards, load_manifest(shards)))
    config = TrainConfig(**{"model": "tiny", "max_steps": 60, "batch_size": 8, "warmup_steps": 5,
                            "log_interval": 0, "device": "cpu", **overrides})
    text = open(REFERENCE_TEXT, encoding="utf-8").read()[:4000]
    return train(config, shards, vocab_size=tokenizer.vocab_size,
                 evals={"wikitext": EvalText(tokenizer.encode(text), len(text.encode()))},
                 eot_id=tokenizer.specials["<|endoftext|>"], log=lambda line: None)


def test_loss_decreases_and_bpb_is_sane(shards):
    result = run(shards)
    assert sum(result.losses[-10:]) / 10 < sum(result.losses[:5]) / 5 - 1.0
    assert 1.0 < result.val_bpb < 8.0 and result.mfu is None and result.tokens_per_second > 0


def test_resume_is_bit_identical(shards, tmp_path):
    straight = run(shards, max_steps=30, grad_accum=2)
    checkpoint = str(tmp_path / "ckpt.pt")
    run(shards, max_steps=30, stop_after=15, grad_accum=2, checkpoint=checkpoint)
    resumed = run(shards, max_steps=30, grad_accum=2, checkpoint=checkpoint)
    assert resumed.losses == straight.losses[15:]
    assert resumed.val_bpb == straight.val_bpb


@pytest.mark.parametrize("schedule", ["cosine", "wsd"])
def test_schedule_warms_up_then_decays_to_the_floor(schedule):
    config = TrainConfig(lr=1.0, min_lr_ratio=0.1, warmup_steps=10, max_steps=100, schedule=schedule)
    rates = [learning_rate(config, step) for step in range(100)]
    assert rates[0] == pytest.approx(0.1) and rates[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(rates[9:], rates[10:]))
    assert rates[-1] == pytest.approx(0.1, abs=0.02)
    if schedule == "wsd":
        assert rates[79] == 1.0 and rates[85] < 1.0


def test_no_weight_decay_on_norms_and_embeddings():
    from train_stub.model import CONFIGS, GPT, GPTConfig
    from train_stub.train import make_optimizer

    model = GPT(GPTConfig(vocab_size=64, **CONFIGS["tiny"]))
    decay, no_decay = make_optimizer(model, TrainConfig(), torch.device("cpu")).param_groups
    assert any(p is model.embed.weight for p in no_decay["params"])
    assert all(p.dim() >= 2 for p in decay["params"]) and no_decay["weight_decay"] == 0.0


@pytest.mark.parametrize("length", [1, 63, 64, 65, 64 * 5 + 17])
def test_bits_per_byte_scores_every_token_once(length):
    """Batched windows give the sum a token-by-token reference gives: each token predicted once from everything
    before it in its window, the first from end-of-text, the ragged last window included."""
    torch.manual_seed(0)
    model = GPT(TrainConfig(model="tiny").model_config(100)).eval()
    tokens = torch.randint(0, 99, (length,)).tolist()
    stream = [99, *tokens]
    seq_len = model.config.seq_len
    nats = 0.0
    with torch.no_grad():
        for start in range(0, len(stream) - 1, seq_len):
            window = torch.tensor(stream[start : start + seq_len + 1])
            logits, _ = model(window[:-1].unsqueeze(0))
            nats += float(torch.nn.functional.cross_entropy(logits[0], window[1:], reduction="sum"))
    expected = nats / (math.log(2) * 1000)
    assert bits_per_byte(model, tokens, 1000, 99, torch.device("cpu")) == pytest.approx(expected, rel=1e-5)
