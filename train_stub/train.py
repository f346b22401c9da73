"""The training loop of the proxy model, all of it in this one file: data, optimiser, schedule, checkpoints, logging.

AdamW with decoupled weight decay (Loshchilov & Hutter 2019) on the matrices only, linear warmup then cosine decay
(or warmup-stable-decay), gradient clipping, gradient accumulation, bf16 autocast on a GPU, optional torch.compile,
checkpoints that resume bit-identically, and evaluation in bits per byte on a fixed reference text.

    python -m train_stub.train out/quickstart/shards --model tiny --max-steps 200
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch

from train_stub.data import ShardLoader
from train_stub.model import CONFIGS, GPT, GPTConfig

# Dense bf16 peak of the GPUs MFU is quoted against (NVIDIA datasheets: H100/H200 SXM 989 TFLOP/s, A100 312).
PEAK_BF16_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12}
REFERENCE_TEXT = os.path.join(os.path.dirname(__file__), "reference", "wikitext2_test_head.txt")


@dataclass
class TrainConfig:
    model: str = "tiny"  # a name in train_stub.model.CONFIGS
    batch_size: int = 16
    grad_accum: int = 1
    max_steps: int = 200
    stop_after: int | None = None  # end this run early (a time-boxed job); the schedule still spans max_steps
    lr: float = 3e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 20
    schedule: Literal["cosine", "wsd"] = "cosine"
    decay_fraction: float = 0.2  # WSD: the last 20% of steps decay linearly (Hägele et al. 2024)
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.95)  # GPT-3's AdamW betas (Brown et al. 2020)
    grad_clip: float = 1.0
    z_loss: float = 0.0
    seed: int = 0
    device: str = "auto"
    compile: bool = False
    log_interval: int = 50
    checkpoint: str | None = None  # resumes from it when it exists; saved every checkpoint_interval and at the end
    checkpoint_interval: int = 0
    model_overrides: dict = field(default_factory=dict)

    def model_config(self, vocab_size: int) -> GPTConfig:
        # vocab padded up to a multiple of 64 (nanoGPT): the unused rows are never a target
        padded = 64 * math.ceil(vocab_size / 64)
        return GPTConfig(vocab_size=padded, **{**CONFIGS[self.model], **self.model_overrides})


def learning_rate(config: TrainConfig, step: int) -> float:
    """Linear warmup to `lr`, then cosine (or WSD: constant, then linear) decay to `lr * min_lr_ratio`."""
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    min_lr = config.lr * config.min_lr_ratio
    if config.schedule == "wsd":
        decay_start = int(config.max_steps * (1 - config.decay_fraction))
        if step < decay_start:
            return config.lr
        return config.lr - (config.lr - min_lr) * (step - decay_start) / max(1, config.max_steps - 1 - decay_start)
    progress = (step - config.warmup_steps) / max(1, config.max_steps - config.warmup_steps)
    return min_lr + 0.5 * (1 + math.cos(math.pi * min(1.0, progress))) * (config.lr - min_lr)


def make_optimizer(model: GPT, config: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW with weight decay on the weight matrices only; none on norms and the embedding table."""
    embedding = model.embed.weight
    decay = [p for p in model.parameters() if p.dim() >= 2 and p is not embedding]
    no_decay = [p for p in model.parameters() if p.dim() < 2 or p is embedding]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=config.lr, betas=config.betas, fused=device.type == "cuda")


def resolve_device(name: str) -> torch.device:
    return torch.device(("cuda" if torch.cuda.is_available() else "cpu") if name == "auto" else name)


def peak_flops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((flops for key, flops in PEAK_BF16_FLOPS.items() if key in name), None)


@torch.no_grad()
def bits_per_byte(model: GPT, tokens: list[int], num_bytes: int, eot_id: int, device: torch.device,
                  batch_size: int = 32) -> float:
    """Bits per UTF-8 byte of a text from its `tokens`: every token is predicted once, the first from an end-of-text
    token. Tokenizer-independent, so datasets tokenized differently compare fairly."""
    model.eval()
    seq_len = model.config.seq_len
    stream = torch.tensor([eot_id, *tokens], dtype=torch.long)
    full = (len(stream) - 1) // seq_len  # windows of seq_len predictions; the shorter rest is scored apart
    windows = stream[: full * seq_len + 1].unfold(0, seq_len + 1, seq_len) if full else stream[:0].view(0, seq_len + 1)
    rest = stream[full * seq_len :]
    nats = 0.0
    for first in range(0, len(windows), batch_size):
        batch = windows[first : first + batch_size].to(device)
        with autocast(device):
            _, loss = model(batch[:, :-1], batch[:, 1:], reduction="sum")
        nats += float(loss)
    if len(rest) > 1:
        with autocast(device):
            _, loss = model(rest[:-1].unsqueeze(0).to(device), rest[1:].unsqueeze(0).to(device), reduction="sum")
        nats += float(loss)
    model.train()
    return nats / (math.log(2) * num_bytes)


def autocast(device: torch.device) -> torch.autocast:
    """bf16 autocast on a GPU; full precision on the CPU (bit-reproducible there, and bf16 is slow on most CPUs)."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


@dataclass(frozen=True)
class EvalText:
    """A fixed evaluation text: its tokens under the dataset's tokenizer and its length in UTF-8 bytes."""

    tokens: list[int]
    num_bytes: int


@dataclass
class TrainResult:
    steps: int
    losses: list[float]
    tokens_per_second: float
    mfu: float | None
    bits_per_byte: dict[str, float] = field(default_factory=dict)  # per evaluation text, in the order given

    @property
    def val_bpb(self) -> float | None:
        """Bits per byte on the first evaluation text."""
        return next(iter(self.bits_per_byte.values()), None)


def save_checkpoint(path: str, model: GPT, optimizer: torch.optim.Optimizer, step: int, loader: ShardLoader,
                    config: TrainConfig) -> None:
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
             "loader": loader.state_dict(), "config": dataclasses.asdict(config)}
    torch.save(state, path + ".tmp")
    os.replace(path + ".tmp", path)


def train(config: TrainConfig, shard_dir: str, *, vocab_size: int, evals: Mapping[str, EvalText] | None = None,
          eot_id: int = 0, log: Callable[[str], None] = print) -> TrainResult:
    """Train on the shards in `shard_dir` for `config.max_steps` steps, then measure bits per byte on each of
    `evals`."""
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    model_config = config.model_config(vocab_size)
    model = GPT(model_config).to(device)
    optimizer = make_optimizer(model, config, device)
    loader = ShardLoader(shard_dir, model_config.seq_len, config.batch_size, seed=config.seed)
    step = 0
    if config.checkpoint and os.path.exists(config.checkpoint):
        state = torch.load(config.checkpoint, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        loader.load_state_dict(state["loader"])
        step = state["step"]
        log(f"resumed from {config.checkpoint} at step {step}")
    forward = torch.compile(model) if config.compile else model
    tokens_per_step = config.batch_size * config.grad_accum * model_config.seq_len
    losses: list[float] = []
    timed_tokens, timed_seconds = 0, 0.0
    last_step = min(config.max_steps, config.stop_after or config.max_steps)
    while step < last_step:
        started = time.perf_counter()
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config, step)
        total = torch.zeros((), device=device)
        for _ in range(config.grad_accum):
            x, y = (t.to(device, non_blocking=True) for t in loader.next_batch())
            with autocast(device):
                _, loss = forward(x, y)
            (loss / config.grad_accum).backward()
            total += loss.detach() / config.grad_accum
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(float(total))  # one sync a step; the loss is logged and returned
        step += 1
        elapsed = time.perf_counter() - started
        if step > min(10, config.max_steps // 2):  # leave warm-up and compilation out of the throughput
            timed_tokens, timed_seconds = timed_tokens + tokens_per_step, timed_seconds + elapsed
        if config.log_interval and step % config.log_interval == 0:
            log(f"step {step}/{config.max_steps} loss {losses[-1]:.4f} lr {learning_rate(config, step - 1):.2e} "
                f"{tokens_per_step / elapsed:,.0f} tok/s")
        if config.checkpoint and config.checkpoint_interval and step % config.checkpoint_interval == 0:
            save_checkpoint(config.checkpoint, model, optimizer, step, loader, config)
    if config.checkpoint:
        save_checkpoint(config.checkpoint, model, optimizer, step, loader, config)
    tokens_per_second = timed_tokens / timed_seconds if timed_seconds else 0.0
    peak = peak_flops(device)
    mfu = model.flops_per_token() * tokens_per_second / peak if peak else None
    scores = {name: bits_per_byte(model, text.tokens, text.num_bytes, eot_id, device)
              for name, text in (evals or {}).items()}
    return TrainResult(step, losses, tokens_per_second, mfu, scores)


def main() -> None:
    from curate.shards import load_tokenizer_file
    from curate.shards import load_manifest, shard_tokenizer_path

    parser = argparse.ArgumentParser(description="Train the proxy GPT on curate token shards.")
    parser.add_argument("shards")
    parser.add_argument("--model", default="tiny", choices=sorted(CONFIGS))
    parser.add_argument("--max-steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--checkpoint")
    args = parser.parse_args()
    manifest = load_manifest(args.shards)
    tokenizer = load_tokenizer_file(shard_tokenizer_path(args.shards, manifest))
    with open(REFERENCE_TEXT, encoding="utf-8") as handle:
        text = handle.read()
    config = TrainConfig(model=args.model, max_steps=args.max_steps, batch_size=args.batch_size, lr=args.lr,
                         seed=args.seed, compile=args.compile, checkpoint=args.checkpoint)
    result = train(config, args.shards, vocab_size=tokenizer.vocab_size,
                   evals={"wikitext": EvalText(tokenizer.encode(text), len(text.encode()))}, eot_id=manifest["eot_id"])
    print(f"final loss {np.mean(result.losses[-10:]):.4f}, val {result.val_bpb:.4f} bits/byte, "
          f"{result.tokens_per_second:,.0f} tok/s" + (f", MFU {result.mfu:.1%}" if result.mfu else ""))


if __name__ == "__main__":
    main()
