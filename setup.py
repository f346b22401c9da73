"""Builds the optional C parts (the BPE merge loop, the MinHash kernel, the HTML block walk, the block classifier's
trees); everything else is in pyproject.toml."""

from setuptools import Extension, setup

try:  # the block walk reads libxml2's nodes through the headers lxml ships (a build requirement, pyproject.toml)
    import lxml

    LXML_INCLUDES = lxml.get_include()
except ImportError:
    LXML_INCLUDES = None

# optional: where no C compiler is available the install still succeeds and each has a Python path with its results.
setup(ext_modules=[
    Extension("tokenizer._merge", ["tokenizer/_merge.c"], optional=True, extra_compile_args=["-O2"]),
    # -O3 lets the compiler vectorise the permutation loop (4 to 8 slots per instruction).
    Extension("curate.ops.dedup._minhash", ["curate/ops/dedup/_minhash.c"], optional=True, extra_compile_args=["-O3"]),
    Extension("curate.stages._forest", ["curate/stages/_forest.c"], optional=True, extra_compile_args=["-O2"]),
] + ([Extension("curate.stages._html_blocks", ["curate/stages/_html_blocks.c"], include_dirs=LXML_INCLUDES,
                optional=True, extra_compile_args=["-O2"])] if LXML_INCLUDES else []))
