"""Builds the optional C merge loop of the BPE trainer; everything else is configured in pyproject.toml."""

from setuptools import Extension, setup

# optional: where no C compiler is available the install still succeeds and training uses the Python merge loop.
setup(ext_modules=[Extension("tokenizer._merge", ["tokenizer/_merge.c"], optional=True,
                             extra_compile_args=["-O2"])])
