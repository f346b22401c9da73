"""The Triton FlashAttention-2 kernel against a float64 reference, forward and backward.

On a CUDA GPU: compiled, in bf16 and fp16. Everywhere Triton is installed: the same kernels run by Triton's CPU
interpreter (TRITON_INTERPRET=1, in a subprocess, since it must be set before Triton loads), in fp32 and fp16; the
interpreter does not emulate bf16 faithfully, so bf16 is checked on the GPU only.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest
import torch

from tests.conftest import ROOT
from tests.train_stub.test_model import reference_attention
from train_stub.kernels import TRITON_AVAILABLE

SHAPES = [(2, 4, 128, 64), (1, 2, 1000, 64), (2, 3, 257, 128), (1, 1, 64, 32), (2, 12, 1024, 64)]
INTERPRETER_SHAPES = [(1, 2, 128, 64), (1, 1, 200, 32), (1, 1, 257, 128), (1, 1, 64, 16)]


def relative_errors(batch, heads, seq, head_dim, dtype, device) -> list[float]:
    """‖mine − reference‖ / ‖reference‖ for the output and the three gradients."""
    from train_stub.kernels.flash_attention import flash_attention

    torch.manual_seed(seq)
    q, k, v = (torch.randn(batch, heads, seq, head_dim, device=device, dtype=dtype, requires_grad=True)
               for _ in range(3))
    grad = torch.randn(batch, heads, seq, head_dim, device=device, dtype=dtype)
    out = flash_attention(q, k, v)
    out.backward(grad)
    reference_inputs = [t.detach().double().requires_grad_() for t in (q, k, v)]
    expected = reference_attention(*reference_inputs)
    expected.backward(grad.double())
    pairs = [(out, expected)] + [(t.grad, r.grad) for t, r in zip((q, k, v), reference_inputs)]
    return [float((a.detach().double() - b.detach()).norm() / b.norm()) for a, b in pairs]


@pytest.mark.skipif(not TRITON_AVAILABLE, reason="needs a CUDA GPU with Triton")
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("shape", SHAPES)
def test_on_gpu_matches_reference(dtype, shape):
    errors = relative_errors(*shape, dtype, "cuda")
    assert errors[0] < 1e-2 and max(errors[1:]) < 2e-2, errors


@pytest.mark.skipif(importlib.util.find_spec("triton") is None, reason="Triton is not installed")
def test_in_the_triton_interpreter_matches_reference():
    script = ("import json, torch\nfrom tests.train_stub.test_kernels import relative_errors, INTERPRETER_SHAPES\n"
              "print(json.dumps([relative_errors(*s, d, 'cpu') for d in (torch.float32, torch.float16) "
              "for s in INTERPRETER_SHAPES]))")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "TRITON_INTERPRET": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    errors = json.loads(result.stdout.strip().splitlines()[-1])
    fp32, fp16 = errors[: len(INTERPRETER_SHAPES)], errors[len(INTERPRETER_SHAPES):]
    assert max(max(e) for e in fp32) < 1e-5, fp32  # float32 arithmetic: rounding only
    assert max(max(e) for e in fp16) < 2e-3, fp16  # fp16 operands: 1e-4 to 1e-3 expected


@pytest.mark.skipif(not TRITON_AVAILABLE, reason="needs a CUDA GPU with Triton")
def test_the_kernel_runs_inside_torch_compile():
    """torch.compile hands the kernel its scale as fp64 (found by bench/mfu.py on an H200): the compiled model with
    the Triton kernel must build and give the eager model's loss and gradients."""
    from train_stub.kernels import set_attention_backend
    from train_stub.model import CONFIGS, GPT, GPTConfig

    set_attention_backend("triton")
    try:
        torch.manual_seed(0)
        model = GPT(GPTConfig(vocab_size=256, **{**CONFIGS["tiny"], "d_model": 128})).cuda()
        x = torch.randint(0, 256, (4, 65), device="cuda")
        results = []
        for forward in (model, torch.compile(model)):
            model.zero_grad(set_to_none=True)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                _, loss = forward(x[:, :-1], x[:, 1:])
            loss.backward()
            results.append((loss.item(), torch.cat([p.grad.flatten() for p in model.parameters()])))
    finally:
        set_attention_backend("auto")
    (eager_loss, eager_grad), (compiled_loss, compiled_grad) = results
    assert abs(eager_loss - compiled_loss) < 1e-2
    assert float((eager_grad - compiled_grad).norm() / eager_grad.norm()) < 5e-2
