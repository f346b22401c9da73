"""Does curation make better training data? Runs an ablation pipeline, then trains the same proxy model on each of
its arms with the same token budget and several seeds, and reports bits per byte on text no arm saw.

    python -m train_stub.ablation pipelines/ablation/ablation.yaml --markdown docs/ablation.md   (make ablation)

The arms are the pipeline's tokenize nodes named `arm_*` (pipelines/ablation/ablation.yaml: raw whole-page text,
extracted main text, filtered, curated, curated with one stage left out or changed, and `arm_anchor_*`, an anchor's
own recipe over the same pages, compared with arm_curated and with each variant of it, arm_curated_top10 among them:
curate's stages at DCLM's yield). Evaluation texts:
- `heldout`: the gold main text of the cleaning_bench pages in HELD_OUT_WARCS, which no arm reads (checked here);
- `wikitext`: train_stub's WikiText-2 test extract.
The budget stays under one epoch of the smallest arm, so no arm is repeated (docs/train_stub.md shows what repetition
does to a comparison). The proxy is `tiny-untied` (train_stub/model.py says why not `tiny`). Seeds train two at a
time in processes of one thread each, the fastest use of two cores for it; a run on one thread gives the same bits
whatever else the machine does. Verdicts follow train_stub.compare: never from one seed, only beyond the
seeds' spread. For a machine without the corpus (a lent GPU), `--export DIR` copies the arms and the evaluation
texts, and `--bundle DIR` trains there (bench/gpu_ablation.sh).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import shutil
import statistics
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from curate import storage
from curate.shards import load_manifest, manifest_path
from curate.stages.jsonl import iter_texts
from train_stub.compare import DatasetScore, describe_comparison
from train_stub.train import REFERENCE_TEXT, TrainConfig

# cleaning_bench WARC files whose pages no arm trains on (249 pages: CleanEval's news and blog pages, Dragnet's
# articles with their comments, CleanPortalEval's news portals); their gold texts are the `heldout` evaluation.
HELD_OUT_WARCS = ("cleaneval-main-00004.warc.gz", "dragnet-main-00008.warc.gz", "cleanportaleval-main-00000.warc.gz")
ARM_PREFIX = "arm_"
LEFT_OUT = "_without_"  # arm_without_c4: arm_curated less c4; arm_x_without_c4: arm_x less c4
ANCHOR_PREFIX = "arm_anchor_"  # an anchor's own recipe over the same pages (bench/anchor_recipes.py)
BASELINE, FULL = "arm_raw", "arm_curated"
MAIN_ARMS = ("arm_curated", "arm_filtered", "arm_extracted", "arm_raw")  # compared with each other, best first
RUNS_FOLDER = "_ablation_runs"  # in the pipeline's workdir: one JSON of scores per finished run (run_key)
BUNDLE_TEXTS = "evaluation_texts.json"  # in an --export's folder: {name: text}, the texts the checks passed


def held_out_gold(cleaning_bench: Path) -> dict[str, str]:
    """Page id -> gold main text of every page in HELD_OUT_WARCS (pages without gold text are left out)."""
    from warcio.archiveiterator import ArchiveIterator

    texts: dict[str, str] = {}
    for warc in HELD_OUT_WARCS:
        dataset = warc.split("-main-")[0]
        with open(cleaning_bench / "html" / dataset / "manifest.jsonl", encoding="utf-8") as lines:
            gold = {entry["id"]: (entry.get("expected") or {}).get("gold_text") for entry in map(json.loads, lines)}
        with open(cleaning_bench / "warc" / warc, "rb") as handle:
            for record in ArchiveIterator(handle):
                page = record.rec_headers.get_header("X-Datastage-Id")
                text = gold.get(page) if page else None
                if text:
                    texts[page] = text.strip()
    return texts


def heldout_text(cleaning_bench: Path) -> str:
    """The gold main texts of the held-out pages, in page-id order, one blank line apart."""
    texts = held_out_gold(cleaning_bench)
    return "\n\n".join(texts[page] for page in sorted(texts))


def pipeline_file(pipeline: str) -> dict:
    """The pipeline file as written (YAML), its inputs unresolved: an anchor's input (bench/anchor_recipes.py writes
    it) may not exist yet when the arms are listed or the held-out check runs."""
    import yaml

    with open(pipeline, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def check_held_out(pipeline: str) -> None:
    """Refuse a pipeline that reads a held-out WARC file: its gold text would not be held out."""
    from curate.config import resolve_files

    for name, node in pipeline_file(pipeline)["nodes"].items():
        warcs = (node.get("input") or {}).get("warc") if isinstance(node.get("input"), dict) else None
        for path in resolve_files(warcs, os.path.dirname(os.path.abspath(pipeline)), name) if warcs else ():
            if os.path.basename(path) in HELD_OUT_WARCS:
                raise SystemExit(f"ablation: node {name!r} reads {path}, which is held out for evaluation")


# Where an ablation pipeline names reference text a selection model learns from: a classifier's positive examples,
# a language model's text, DSIR's target distribution. None may hold evaluation text. (Arms' pages are not checked: a
# syndicated news story can sit on a training page and a held-out page alike, and it does so for every arm that reads
# those pages.)
TRAINING_TEXT_OPTIONS = (("train_fasttext", "positive"), ("train_kenlm", "text"), ("dsir", "target"))
MATCHED_LINE_CHARS = 100  # evaluation lines this long are distinctive: one found in a training file is a leak


def check_evaluation_text_unseen(pipeline: str, texts: dict[str, str]) -> None:
    """Refuse a pipeline whose selection models learn from a file that holds a line of the evaluation texts: a quality
    classifier trained on WikiText's test set would select the pages that look like it, and its arm would score well
    on WikiText for that reason alone."""
    from curate.config import resolve_files

    lines = {line.strip(): name for name, text in texts.items() for line in text.splitlines()
             if len(line.strip()) >= MATCHED_LINE_CHARS}
    base = os.path.dirname(os.path.abspath(pipeline))
    for node_name, node in pipeline_file(pipeline)["nodes"].items():
        for section, option in TRAINING_TEXT_OPTIONS:
            globs = (node.get(section) or {}).get(option) if isinstance(node.get(section), dict) else None
            if not globs:
                continue
            for path in resolve_files(globs, base, node_name):
                for text in iter_texts(path):
                    leaked = next((line for line in text.splitlines() if line.strip() in lines), None)
                    if leaked is not None:
                        raise SystemExit(f"ablation: node {node_name!r} learns from {path}, which holds evaluation "
                                         f"text ({lines[leaked.strip()]}: {leaked.strip()[:60]!r}...)")


def export_bundle(arms: dict[str, str], texts: dict[str, str], bundle: Path) -> None:
    """Copy each arm's shards and its node record (manifest, tokenizer) into `bundle`, laid out as a workdir, with
    the evaluation texts beside them: what `--bundle` needs to train on a machine that has neither the corpus nor
    the pipeline's outputs (the evaluation texts were checked against the pipeline here, before the copy)."""
    for arm, folder in arms.items():
        shutil.copytree(folder, bundle / arm, dirs_exist_ok=True)
        shutil.copytree(Path(manifest_path(folder)).parent, bundle / "_curate" / arm, dirs_exist_ok=True)
    (bundle / BUNDLE_TEXTS).write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")


def pipeline_workdir(pipeline: str) -> str:
    """The pipeline's workdir, as curate resolves it (against the current folder)."""
    data = pipeline_file(pipeline)
    return storage.absolute(data.get("workdir") or os.path.join("out", str(data["name"])))


def arm_folders(pipeline: str) -> dict[str, str]:
    """Each arm's tokenize folder, by node name, in the pipeline file's order (an arm follows what it reads)."""
    workdir = pipeline_workdir(pipeline)
    return {name: storage.join(workdir, name) for name, node in pipeline_file(pipeline)["nodes"].items()
            if name.startswith(ARM_PREFIX) and isinstance(node, dict) and "tokenize" in node}


def left_out_of(arm: str) -> tuple[str, str] | None:
    """(the arm that has the stage, the stage) for a leave-one-stage-out arm, else None.

    Example: left_out_of("arm_without_c4") -> ("arm_curated", "c4"); left_out_of("arm_curated_trafilatura_without_c4")
    -> ("arm_curated_trafilatura", "c4"); left_out_of("arm_raw") -> None."""
    if LEFT_OUT not in arm:
        return None
    base, stage = arm.split(LEFT_OUT, 1)
    return (FULL if base + "_" == ARM_PREFIX else base), stage


def default_arms(arms: dict[str, str], tokens: int) -> dict[str, str]:
    """The arms trained when none is named: every arm but the anchors' recipes and the variants that keep no more
    than `tokens` (arm_curated_top10, curate at DCLM's yield), which train when named, at a budget under their own
    tokens. A main arm under the budget is not left out: the budget check refuses it."""
    chosen = {}
    for arm, folder in arms.items():
        if arm.startswith(ANCHOR_PREFIX):
            continue
        kept = load_manifest(folder)["tokens"]
        if arm not in MAIN_ARMS and kept <= tokens:
            print(f"ablation: {arm} keeps {kept:,} tokens, not more than the budget ({tokens:,}): it trains when "
                  f"named with --arms and a smaller --tokens", file=sys.stderr)
            continue
        chosen[arm] = folder
    return chosen


def data_fingerprint(folder: str) -> str:
    """Which tokens an arm holds: the hash of its shards' checksums (arms with equal data train once)."""
    shards = load_manifest(folder)["shards"]
    return hashlib.sha256("".join(shard["sha256"] for shard in shards).encode()).hexdigest()


@dataclass(frozen=True)
class Job:
    arm: str
    folder: str
    seed: int


def train_job(job: Job, config: TrainConfig, tokens: int, texts: dict[str, str]) -> tuple[Job, dict[str, float]]:
    """One seed of one arm, on one thread."""
    import torch

    from train_stub.compare import compare_datasets

    torch.set_num_threads(1)
    (score,) = compare_datasets([job.folder], texts, config, [job.seed], tokens, log=lambda line: None)
    return job, {name: values[0] for name, values in score.bits_per_byte.items()}


def run_key(job: Job, config: TrainConfig, tokens: int, texts: dict[str, str]) -> str:
    """What decides a run's scores: the arm's tokens, the seed, the training config, the budget and the evaluation
    texts. A run on one thread is deterministic, so a run with the same key need not train again."""
    described = json.dumps({"data": data_fingerprint(job.folder), "seed": job.seed, "config": asdict(config),
                            "tokens": tokens, "texts": {name: hashlib.sha256(text.encode()).hexdigest()
                                                        for name, text in texts.items()}}, sort_keys=True)
    return hashlib.sha256(described.encode()).hexdigest()[:32]


def run_jobs(jobs: list[Job], config: TrainConfig, tokens: int, texts: dict[str, str], processes: int,
             runs_folder: Path) -> dict[tuple[str, int], dict[str, float]]:
    """Train each job, or read its scores from `runs_folder` where a run with the same key finished before (an
    ablation stopped half-way resumes; adding an arm trains only that arm)."""
    results = {}
    keys = {job: run_key(job, config, tokens, texts) for job in jobs}
    for job, key in keys.items():
        if (runs_folder / f"{key}.json").exists():
            results[(job.arm, job.seed)] = json.loads((runs_folder / f"{key}.json").read_text())
    to_train = [job for job in jobs if (job.arm, job.seed) not in results]
    print(f"ablation: {len(jobs)} runs, {len(jobs) - len(to_train)} done before, {len(to_train)} to train",
          flush=True)
    runs_folder.mkdir(parents=True, exist_ok=True)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=processes, mp_context=context) as pool:
        futures = [pool.submit(train_job, job, config, tokens, texts) for job in to_train]
        for number, future in enumerate(futures, 1):
            job, scores = future.result()
            results[(job.arm, job.seed)] = scores
            partial = runs_folder / f"{keys[job]}.json.partial"
            partial.write_text(json.dumps(scores))
            partial.replace(runs_folder / f"{keys[job]}.json")
            print(f"ablation: [{number}/{len(to_train)}] {job.arm} seed {job.seed}: "
                  + ", ".join(f"{name} {value:.4f}" for name, value in scores.items()), flush=True)
    return results


def data_owners(arms: dict[str, str]) -> dict[str, str]:
    """For each arm, the first arm (itself, usually) whose shards hold the same tokens: that arm's runs are its runs.

    Example: a stage that removes nothing (exact dedup after MinHash found every exact duplicate) gives
    {"arm_curated": "arm_curated", "arm_without_exact_dedup": "arm_curated"}."""
    first_with: dict[str, str] = {}
    for arm, folder in arms.items():
        first_with.setdefault(data_fingerprint(folder), arm)
    return {arm: first_with[data_fingerprint(folder)] for arm, folder in arms.items()}


def score_arms(arms: dict[str, str], seeds: dict[str, Sequence[int]], config: TrainConfig, tokens: int,
               texts: dict[str, str], processes: int, runs_folder: Path) -> dict[str, DatasetScore]:
    """Train every arm on its seeds, once per distinct data (data_owners), and collect the scores."""
    owner = data_owners(arms)
    jobs = [Job(arm, arms[arm], seed) for arm in arms if owner[arm] == arm for seed in seeds[arm]]
    results = run_jobs(jobs, config, tokens, texts, processes, runs_folder)
    scores = {}
    for arm, folder in arms.items():
        manifest = load_manifest(folder)
        runs = [results[(owner[arm], seed)] for seed in seeds[owner[arm]]]
        scores[arm] = DatasetScore(folder, {name: [run[name] for run in runs] for name in texts},
                                   tokens / manifest["tokens"], int(manifest["tokens"]), list(seeds[owner[arm]]))
    return scores


def report(scores: dict[str, DatasetScore], arms: dict[str, str], config: TrainConfig, tokens: int,
           texts: dict[str, str], same_data: dict[str, str]) -> str:
    """The three tables as Markdown: arms, the main comparisons, leave-one-stage-out."""
    names = list(texts)
    raw_docs = load_manifest(arms[BASELINE])["documents"] if BASELINE in arms else None
    seeds = {arm: len(score.bits_per_byte[names[0]]) for arm, score in scores.items()}
    lines = [f"Model `{config.model}`, {tokens:,} training tokens per run, batch {config.batch_size}, lr "
             f"{config.lr}; evaluation texts: " + ", ".join(f"`{n}` ({len(t.encode()):,} bytes)" for n, t in
                                                         texts.items()) + ".", "",
             "| arm | documents | kept | tokens | epochs | seeds | " + " | ".join(f"{n} bits/byte" for n in names)
             + " |", "|---|---|---|---|---|---|" + "---|" * len(names)]
    for arm, score in scores.items():
        manifest = load_manifest(arms[arm])
        kept = f"{manifest['documents'] / raw_docs:.1%}" if raw_docs else "-"
        cells = " | ".join(f"{score.mean(n):.4f} ± {score.std(n):.4f}" for n in names)
        note = f" (= {same_data[arm]})" if arm in same_data else ""
        lines.append(f"| {arm}{note} | {manifest['documents']:,} | {kept} | {manifest['tokens']:,} | "
                     f"{score.epochs:.2f} | {seeds[arm]} | {cells} |")

    def comparison_row(better: str, worse: str) -> str:
        cells = " | ".join(describe_comparison(scores[better], scores[worse], n) for n in names)
        return f"| {better} vs {worse} | {cells} |"

    main = [arm for arm in MAIN_ARMS if arm in scores]
    if len(main) > 1:
        lines += ["", "Differences (positive: the first arm is better; sigma: the gap over the larger seed standard "
                  "deviation; p: Welch's t-test; paired by seed: the same from the per-seed gaps, the paired "
                  "t-test):", "", "| comparison | " + " | ".join(names) + " |",
                  "|---|" + "---|" * len(names)]
        for position, better in enumerate(main):
            for worse in main[position + 1 :]:
                lines.append(comparison_row(better, worse))
    variants = [(arm, base) for arm in scores for base in scores
                if arm != base and arm.startswith(base + "_") and left_out_of(arm) is None]
    if variants:
        lines += ["", "Variants (an arm named after another plus a suffix; positive: the variant is better):", "",
                  "| comparison | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        lines += [comparison_row(arm, base) for arm, base in variants]
    anchors = [arm for arm in scores if arm.startswith(ANCHOR_PREFIX)]
    # curate's own recipe and its variants (arm_curated_top10: curate at DCLM's yield) against each anchor's
    ours = [arm for arm in scores if arm == FULL or (arm.startswith(FULL + "_") and left_out_of(arm) is None)]
    if anchors and ours:
        lines += ["", "Against the anchors' recipes (positive: curate's arm is better):", "",
                  "| comparison | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        lines += [comparison_row(arm, anchor) for arm in ours for anchor in anchors]
    left_out = [(arm, *found) for arm in scores if (found := left_out_of(arm)) and found[0] in scores]
    if left_out:
        lines += ["", "Leave one stage out (positive: the arm with the stage is better, i.e. the stage helps):", "",
                  "| stage left out | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
        for arm, base, stage in left_out:
            label = stage if base == FULL else f"{stage} (of {base})"
            if arm in same_data:
                lines.append(f"| {label} | " + " | ".join("no change: the same data as " + same_data[arm]
                                                          for _ in names) + " |")
                continue
            lines.append(f"| {label} | " + " | ".join(describe_comparison(scores[base], scores[arm], n) for n in names)
                         + " |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pipeline", help="an ablation pipeline: tokenize nodes named arm_*")
    parser.add_argument("--model", default="tiny-untied", help="a train_stub model size (model.CONFIGS)")
    parser.add_argument("--tokens", type=int, default=2_000_000, help="training tokens per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="seeds of the main arms")
    parser.add_argument("--stage-seeds", type=int, nargs="+", default=[0, 1, 2],
                        help="seeds of the leave-one-stage-out arms")
    parser.add_argument("--batch-size", type=int, default=16)
    # 1e-2 rather than train_stub's 3e-3: on arm_filtered at 1M tokens, four seeds spread 0.017 bits/byte at 1e-2
    # and 0.036 at 3e-3 (at 3e-3 the seeds leave the unigram plateau at different speeds), at a similar mean.
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--arms", nargs="+", help="train only these arms (default: every arm_* node but the "
                        "anchors' arm_anchor_*)")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="runs trained at once, one thread each (with --device cuda: one, the GPU's)")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda for a GPU (bf16; runs kept apart from the "
                        "CPU's, their key holds the device)")
    parser.add_argument("--corpus", default=os.path.join(os.path.dirname(__file__), "..", "..", "shared", "corpus"))
    parser.add_argument("--eval-chars", type=int, default=0, help="score only the first N characters of each "
                        "evaluation text (0: all of it)")
    parser.add_argument("--markdown", help="write the tables here too")
    parser.add_argument("--json", help="write every run's bits per byte here")
    parser.add_argument("--no-run", action="store_true", help="use the arms the workdir holds, without running the "
                        "pipeline first (for instance to report the runs kept from a stopped ablation)")
    parser.add_argument("--export", metavar="DIR", help="copy the arms (shards, manifest, tokenizer) and the "
                        "evaluation texts into DIR and stop: a bundle to train from where the corpus is not")
    parser.add_argument("--bundle", metavar="DIR", help="train on an --export's arms and texts (no pipeline run, no "
                        "corpus: bench/gpu_ablation.sh on a lent GPU); runs are kept in DIR")
    args = parser.parse_args(argv)

    if args.bundle:  # a machine without the corpus (a lent GPU): the arms and texts an --export wrote
        bundle = Path(args.bundle)
        texts = json.loads((bundle / BUNDLE_TEXTS).read_text(encoding="utf-8"))
        arms = {arm: str(bundle / arm) for arm in arm_folders(args.pipeline) if (bundle / arm).is_dir()}
        runs_folder = bundle / RUNS_FOLDER
    else:
        from curate.cli import main as curate_main

        check_held_out(args.pipeline)
        with open(REFERENCE_TEXT, encoding="utf-8") as handle:
            texts = {"heldout": heldout_text(Path(args.corpus) / "cleaning_bench"), "wikitext": handle.read()}
        check_evaluation_text_unseen(args.pipeline, texts)
        if not args.no_run and curate_main(["run", args.pipeline, "--executor", "local", "--workers",
                                            str(args.processes)]) != 0:
            return 1
        arms = arm_folders(args.pipeline)
        runs_folder = Path(pipeline_workdir(args.pipeline)) / RUNS_FOLDER
    if args.arms:
        unknown = sorted(set(args.arms) - set(arms))
        if unknown:
            raise SystemExit(f"ablation: no arm {', '.join(unknown)} in {args.bundle or args.pipeline}; arms: "
                             f"{', '.join(arms)}")
        arms = {arm: folder for arm, folder in arms.items() if arm in args.arms}
    else:
        arms = default_arms(arms, args.tokens)
    if args.export:
        export_bundle(arms, texts, Path(args.export))
        print(f"ablation: {len(arms)} arms and the evaluation texts -> {args.export}", file=sys.stderr)
        return 0
    smallest = min(load_manifest(folder)["tokens"] for folder in arms.values())
    if args.tokens >= smallest:
        raise SystemExit(f"ablation: --tokens {args.tokens:,} is not below one epoch of the smallest arm "
                         f"({smallest:,} tokens)")
    if args.eval_chars:
        texts = {name: text[: args.eval_chars] for name, text in texts.items()}
    config = TrainConfig(model=args.model, batch_size=args.batch_size, lr=args.lr, log_interval=0, device=args.device)
    processes = args.processes if args.device == "cpu" else 1
    seeds = {arm: args.stage_seeds if left_out_of(arm) else args.seeds for arm in arms}
    scores = score_arms(arms, seeds, config, args.tokens, texts, processes, runs_folder)
    same_data = {arm: owner for arm, owner in data_owners(arms).items() if owner != arm}
    table = report(scores, arms, config, args.tokens, texts, same_data)
    print(table)
    if args.markdown:
        Path(args.markdown).write_text(table, encoding="utf-8")
    if args.json:
        Path(args.json).write_text(json.dumps({arm: asdict(score) for arm, score in scores.items()}, indent=1))
    means = {arm: statistics.fmean(score.bits_per_byte["heldout"]) for arm, score in scores.items()}
    print("ablation: best on heldout: " + min(means, key=means.__getitem__), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
