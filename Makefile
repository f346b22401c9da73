# Entry points for people and CI. Each target creates the virtualenv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
BASE := $(VENV)/.base
STAMP := $(VENV)/.installed
KENLM := $(VENV)/kenlm/bin/lmplz

.PHONY: quickstart test typecheck kenlm bench extraction-quality ablation clean

# The base install runs the quickstart (extract, rules, dedup, BPE, shards): no torch, no C++ build.
$(BASE): pyproject.toml setup.py tokenizer/_merge.c curate/ops/dedup/_minhash.c curate/stages/_html_blocks.c
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $(BASE)

# Everything the tests use: torch's CPU build (pinned first: a bare "torch" would pull CUDA packages), Triton's CPU
# interpreter, KenLM's query module (compiled from its sdist), the test tools.
$(STAMP): $(BASE)
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev,train,kenlm]"
	touch $(STAMP)

# KenLM's lmplz and build_binary, for train_kenlm nodes (cc_en.yaml, the tests): built once from the kenlm sdist.
$(KENLM): models/build_kenlm.sh | $(STAMP)
	PIP=$(BIN)/pip bash models/build_kenlm.sh $(VENV)/kenlm/bin
	touch $(KENLM)

kenlm: $(KENLM)

quickstart: $(BASE)
	$(BIN)/curate run pipelines/quickstart.yaml

# mypy over curate/, tokenizer/ and train_stub/ (settings in pyproject.toml), at zero errors.
typecheck: $(STAMP)
	$(BIN)/mypy

# two pytest-xdist workers, the tests that start Ray all on one of them (tests/conftest.py)
test: $(STAMP) $(KENLM) typecheck
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

$(VENV)/.bench: $(STAMP)
	$(BIN)/pip install -q -e ".[dev,train,kenlm,bench]"
	touch $(VENV)/.bench

bench: $(VENV)/.bench
	$(BIN)/python bench/extract.py
	$(BIN)/python bench/bpe.py
	$(BIN)/python bench/filters.py
	$(BIN)/python bench/minhash.py
	$(BIN)/python bench/decontamination.py
	$(BIN)/python bench/end_to_end.py

extraction-quality: $(STAMP)
	$(BIN)/python bench/extraction_quality.py

# dolma (the Dolma-style anchor recipe) pins numpy < 2 and tokenizers <= 0.19: an environment of its own.
.venv-dolma/.installed:
	python3 -m venv .venv-dolma
	.venv-dolma/bin/pip install -q -c bench/dolma_constraints.txt dolma==1.2.1
	touch $@

# The training proof (docs/quality.md): the anchors' recipes over the same pages (bench/anchor_recipes.py: datatrove's
# FineWeb, a DCLM-style and a Dolma-style recipe), pipelines/ablation/ablation.yaml, then the tiny proxy model on
# each arm at equal tokens, 5 seeds (3 for the leave-one-stage-out arms); then curate against the anchors at budgets
# under each anchor's tokens (DCLM's top 10% keeps the fewest; the arm_curated_top10 variants are curate at that
# yield), at two learning rates (the proxy's 1e-2 suits 2M tokens, not every arm at 0.5M; docs/quality.md), and
# against Dolma's at 3M, the most both hold. A later run trains only the runs it has not kept
# (out/ablation/_ablation_runs/).
ablation: $(STAMP) $(KENLM) $(VENV)/.bench .venv-dolma/.installed
	$(BIN)/python bench/anchor_recipes.py
	$(BIN)/python -m train_stub.ablation pipelines/ablation/ablation.yaml --markdown out/ablation/results.md \
		--json out/ablation/results.json
	for lr in 0.01 0.003; do \
		$(BIN)/python -m train_stub.ablation pipelines/ablation/ablation.yaml --no-run --tokens 1500000 --lr $$lr \
			--arms arm_curated arm_curated_own_classifier arm_curated_resiliparse arm_curated_resiliparse_own_classifier \
			arm_curated_dclm_stages arm_curated_dclm_stages_on_blocks arm_curated_c4_punctuated \
			arm_curated_dsir arm_curated_ccnet_head_middle arm_anchor_fineweb arm_anchor_dolma \
			--markdown out/ablation/anchors_lr$$lr.md \
			--json out/ablation/anchors_lr$$lr.json || exit 1; \
		$(BIN)/python -m train_stub.ablation pipelines/ablation/ablation.yaml --no-run --tokens 500000 --lr $$lr \
			--arms arm_curated arm_curated_top10 arm_curated_top10_own_classifier arm_curated_top10_resiliparse \
			arm_curated_top10_without_c4 arm_curated_top10_without_fineweb_quality arm_curated_top10_first_substring \
			arm_curated_top10_refinedweb_lines arm_curated_top10_refinedweb_rules arm_curated_top10_dclm_stages \
			arm_curated_own_classifier arm_curated_resiliparse_own_classifier arm_curated_dclm_stages \
			arm_curated_c4_punctuated arm_anchor_fineweb arm_anchor_dclm arm_anchor_dolma \
			--markdown out/ablation/anchors_dclm_lr$$lr.md \
			--json out/ablation/anchors_dclm_lr$$lr.json || exit 1; \
	done
	$(BIN)/python -m train_stub.ablation pipelines/ablation/ablation.yaml --no-run --tokens 3000000 --lr 0.01 \
		--arms arm_curated arm_anchor_dolma --markdown out/ablation/anchors_3M.md --json out/ablation/anchors_3M.json

clean:
	rm -rf out $(VENV) .venv-dolma
