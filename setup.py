"""Builds the optional C parts (the BPE merge loop, the MinHash kernel); everything else is in pyproject.toml."""

from setuptools import Extension, setup

# optional: where no C compiler is available the install still succeeds and training uses the Python merge loop.
setup(ext_modules=[
    Extension("tokenizer._merge", ["tokenizer/_merge.c"], optional=True, extra_compile_args=["-O2"]),
    # -O3 lets the compiler vectorise the permutation loop (4 to 8 slots per instruction).
    Extension("curate.ops.dedup._minhash", ["curate/ops/dedup/_minhash.c"], optional=True, extra_compile_args=["-O3"]),
])
