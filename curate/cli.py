"""The `curate` command line: `curate run PIPELINE.yaml` and friends.

Exit codes: 0 success, 1 a run failure, 2 a mistake (the pipeline file or the command line), 130 interrupted (Ctrl-C),
143 terminated (SIGTERM). User errors print one line, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import signal
import sys
import threading
from collections.abc import Sequence

from curate import __version__
from curate.errors import ConfigError, CurateError, Terminated, UsageError, raise_terminated
from curate.executors import EXECUTORS
from curate.stats import NodeReport


def _run(args: argparse.Namespace) -> int:
    from curate.config import load_pipeline
    from curate.dag import dry_run, run_pipeline
    from curate.executors import make_executor
    from curate.lock import workdir_lock
    from curate.shard_jobs import shard_plan, shard_spec
    from curate.report.progress import LogProgress, TerminalProgress
    from curate.report.summary import format_summary

    spec = load_pipeline(args.pipeline, workdir=args.workdir)
    if (args.address or args.dashboard) and args.executor != "ray":
        raise UsageError("--address and --dashboard need --executor ray")
    if args.shard:
        whole, spec = spec, shard_spec(spec, args.shard)
        print(f"curate: {shard_plan(whole, spec)}", flush=True)
    if args.dry_run:
        print("\n".join(dry_run(spec, verify=args.verify)))
        return 0
    with workdir_lock(spec.workdir, spec.shard):
        print(f"curate: running {spec.name} ({len(spec.nodes)} nodes) into {spec.workdir} on {args.executor}",
              flush=True)
        live = TerminalProgress() if sys.stdout.isatty() else None
        progress = live or LogProgress(write=lambda line: print(line, flush=True))
        log = lambda line: print(f"curate: {line}", flush=True)  # noqa: E731 - one line, used twice
        with live or contextlib.nullcontext(), make_executor(args.executor, workers=args.workers,
                                                              address=args.address, dashboard=args.dashboard,
                                                              log=log) as executor:
            reports = run_pipeline(spec, executor, log=log, progress=progress, verify=args.verify)
    print(format_summary(reports))
    return _input_files_lost(reports)


# The reader's failures that mean a whole input file was not read (curate/stages/warc.py, jsonl.py)
INPUT_FILE_FAILURES = ("missing_file", "unreadable_file")


def _input_files_lost(reports: list[NodeReport]) -> int:
    """1, with one line, when an input file was missing or unreadable: the run finished the other partitions (they
    are committed and reused), but its output lacks that file's documents, which a script must not take for
    success."""
    lost = {report.name: sum(report.stages[0].failed.get(reason, 0) for reason in INPUT_FILE_FAILURES)
            for report in reports if report.stages}
    lost = {name: count for name, count in lost.items() if count}
    if not lost:
        return 0
    print("curate: error: " + "; ".join(f"node {name}: {count} input file(s) missing or unreadable" for name, count
                                         in lost.items())
          + " (their rows in _rejected/ name them; the other partitions are committed, a re-run reuses them)",
          file=sys.stderr)
    return 1


# The export formats (curate/export_tokens.py's writers), named here so that `curate --help` need not import them.
EXPORT_FORMATS = ("llmc", "nanogpt", "megatron")


def _export_tokens(args: argparse.Namespace) -> int:
    from curate.export_tokens import export_llmc, export_megatron, export_nanogpt

    if args.format == "llmc":
        exported = export_llmc(args.shards, args.out, val_tokens=args.val_tokens, shard_tokens=args.shard_tokens,
                               force=args.force)
    elif args.format == "nanogpt":
        exported = export_nanogpt(args.shards, args.out, val_tokens=args.val_tokens, force=args.force)
    else:
        exported = export_megatron(args.shards, args.out, force=args.force)
    print(f"curate: wrote {exported.summary()}"
          + (f" ({exported.val_documents:,} documents in val)" if exported.val_documents else ""))
    return 0


def _validate(args: argparse.Namespace) -> int:
    from curate.shards import load_manifest
    from train_stub.compare import compare_datasets, difference
    from train_stub.model import CONFIGS
    from train_stub.train import REFERENCE_TEXT, TrainConfig

    if args.model not in CONFIGS:
        raise ConfigError(f"--model {args.model!r} is not a train_stub size; choose one of {', '.join(CONFIGS)}")

    for shard_dir in args.shards:
        try:
            load_manifest(shard_dir)
        except ValueError as error:
            raise CurateError(str(error)) from None
    with open(args.reference or REFERENCE_TEXT, encoding="utf-8") as handle:
        reference = handle.read()
    config = TrainConfig(model=args.model, batch_size=args.batch_size, lr=args.lr, log_interval=0)
    scores = compare_datasets(args.shards, {"reference": reference}, config, args.seeds, args.tokens,
                              log=lambda line: print(f"curate: {line}", flush=True))
    scores.sort(key=lambda score: score.mean("reference"))
    print(f"\n{'dataset':<50} {'epochs':>7} {'val bits/byte (mean ± std over seeds)':>38}")
    for score in scores:
        print(f"{score.shards:<50} {score.epochs:>7.1f} {score.mean('reference'):>28.4f} ± "
              f"{score.std('reference'):.4f}")
    if len(scores) > 1:
        best, runner_up = scores[0], scores[1]
        gap = difference(best.bits_per_byte["reference"], runner_up.bits_per_byte["reference"])
        if gap.clear:
            print(f"better: {best.shards} by {gap.describe()}")
        else:
            print(f"no clear difference between {best.shards} and {runner_up.shards}: {gap.describe()}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from curate.config import load_pipeline
    from curate.evaluate import evaluate, format_markdown, format_text, load_labels

    spec = load_pipeline(args.pipeline, workdir=args.workdir)
    evaluation = evaluate(spec, load_labels(args.labels, args.split), args.split)
    print(format_text(evaluation), end="")
    if args.markdown:
        with open(args.markdown, "w", encoding="utf-8") as out:
            out.write(format_markdown(evaluation))
        print(f"curate: wrote {args.markdown}", file=sys.stderr)
    return 0


def _inspect(args: argparse.Namespace) -> int:
    import json

    from curate.report.collect import collect

    try:
        report = collect(args.path, full_check=args.verify)
        other = collect(args.compare, full_check=args.verify) if args.compare else None
    except FileNotFoundError as error:
        raise CurateError(str(error)) from None
    if args.json:
        print(json.dumps({"a": report, "b": other} if other else report, indent=1))
    elif other:
        from curate.report.terminal import print_comparison

        print_comparison(report, other)
    elif not args.html:  # with --html the page is the report; the terminal gets the one line that says where
        from curate.report.terminal import print_report

        print_report(report)
    if args.html:
        from curate.report.html import write_html

        write_html(report, args.html)
        print(f"curate: wrote {args.html}", file=sys.stderr)
    return 0 if all(n.get("shards", {}).get("check", {"ok": True})["ok"] for n in report["nodes"]) else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="curate", description="Turn WARC files into clean, deduplicated, tokenized training data."
    )
    parser.add_argument("--version", action="version", version=f"curate {__version__}")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")

    run = verbs.add_parser("run", help="run a pipeline DAG from a YAML file",
                           description="Run a pipeline; finished partitions of an earlier run are reused.")
    run.add_argument("pipeline", help="the pipeline file, e.g. pipelines/quickstart.yaml")
    run.add_argument("--executor", choices=tuple(EXECUTORS), default=next(iter(EXECUTORS)),
                     help="ray: an embedded local Ray, or a cluster with --address (default); local: no Ray")
    run.add_argument("--address", help="an existing Ray cluster, e.g. auto or ray://host:10001")
    run.add_argument("--workers", type=int, help="parallel partitions (default: all CPUs for ray, 1 for local)")
    run.add_argument("--workdir", help="where outputs go (overrides the pipeline's workdir): a path or a URI such "
                     "as s3://bucket/prefix")
    run.add_argument("--dashboard", action="store_true", help="start the embedded Ray with its dashboard (on "
                     "127.0.0.1; its address is printed)")
    run.add_argument("--dry-run", action="store_true",
                     help="print which partitions would be computed (and why), reused or deleted; change nothing")
    run.add_argument("--verify", action="store_true",
                     help="check every reused file against its committed SHA-256 (default: size and Parquet footer)")
    run.add_argument("--shard", metavar="I/N", help="one of N jobs of a crawl (e.g. a job array's task I): run the "
                     "per-document nodes on files I, I+N, ... of each input into the shared workdir; then run "
                     "without --shard to merge (deduplicate, train, tokenize across all shards)")
    run.set_defaults(handler=_run)

    export = verbs.add_parser("export-tokens", help="write token shards in a flat format other trainers read",
                              description="Verify token shards against their manifest, then export them. llmc: llm.c's "
                              "files (256 x int32 header, <= 100M tokens each, the first one val) in the --out folder; "
                              "nanogpt: nanoGPT's raw uint16 train.bin and val.bin in the --out folder; megatron: "
                              "Megatron-LM's PREFIX.bin and PREFIX.idx. The val split is the shards' first documents.")
    export.add_argument("shards", help="a tokenize node's folder, e.g. out/quickstart/shards")
    export.add_argument("--format", choices=EXPORT_FORMATS, required=True)
    export.add_argument("--out", required=True, help="the output folder (llmc, nanogpt) or path prefix (megatron)")
    export.add_argument("--val-tokens", type=int, default=None,
                        help="tokens in the val split, whole documents (default: 10%% of the tokens, at most 100M)")
    export.add_argument("--shard-tokens", type=int, default=10**8, help="tokens per llm.c train file (default 100M)")
    export.add_argument("--force", action="store_true", help="overwrite files an earlier export wrote")
    export.set_defaults(handler=_export_tokens)

    inspect = verbs.add_parser("inspect", help="report what a pipeline did: funnel, signals, shards",
                               description="Report on a workdir, a node's output folder or a token shard folder: "
                               "documents in and out per stage with reasons, signal distributions, top domains, "
                               "samples, token shard statistics and their manifest check. Exit 1 when shards fail "
                               "their check.")
    inspect.add_argument("path", help="e.g. out/quickstart, out/quickstart/text or out/quickstart/shards")
    inspect.add_argument("--json", action="store_true", help="print the report as JSON instead of tables")
    inspect.add_argument("--html", metavar="FILE", help="also write a self-contained HTML page with plots")
    inspect.add_argument("--compare", metavar="OTHER", help="a second workdir or node to put beside PATH: each "
                         "node's documents and the shift of each signal's quantiles")
    inspect.add_argument("--verify", action="store_true", help="read every token shard to check its checksum and "
                         "token count (default: sizes and Parquet footers only, so inspect stays fast at any size)")
    inspect.set_defaults(handler=_inspect)

    evaluate = verbs.add_parser("evaluate", help="score each step's decisions against labelled documents",
                                description="Run the labelled documents (JSON Lines: id, text, label keep/drop, "
                                "split) through the pipeline's steps with the models and fits its run produced "
                                "(run it first); print, per step, the precision of its rejections, its recall of "
                                "drops and the keeps it lost, and per final node the share of kept documents "
                                "labelled keep.")
    evaluate.add_argument("pipeline", help="the pipeline file, e.g. pipelines/cc_en.yaml")
    evaluate.add_argument("labels", help="labelled documents, e.g. pipelines/eval/labels.jsonl")
    evaluate.add_argument("--split", default="test", help="the labels' split to score: test (default), tune or all")
    evaluate.add_argument("--workdir", help="the run's workdir (overrides the pipeline's)")
    evaluate.add_argument("--markdown", metavar="FILE", help="also write the tables as Markdown")
    evaluate.set_defaults(handler=_evaluate)

    validate = verbs.add_parser("validate", help="compare datasets by training the same proxy model on each",
                                description="Train the same small GPT on each dataset (token shard folders) with "
                                "the same token budget and seeds; print validation bits per byte on a fixed "
                                "reference text, mean ± std over seeds, lower is better.")
    validate.add_argument("shards", nargs="+", help="folders of tokenize nodes, e.g. out/compare/raw_shards")
    validate.add_argument("--model", default="tiny", help="a train_stub model size: tiny, tiny-untied (the "
                          "ablation's proxy), mini, 20M, 124M")
    validate.add_argument("--tokens", type=int, default=2_000_000, help="training tokens per run")
    validate.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    validate.add_argument("--batch-size", type=int, default=16)
    validate.add_argument("--lr", type=float, default=3e-3)
    validate.add_argument("--reference", help="the reference text file (default: train_stub's WikiText-2 extract)")
    validate.set_defaults(handler=_validate)
    return parser


# Storage refusing a write: the disk or quota full, a read-only or forbidden folder. Whichever write met it (a
# partition's, or the driver's own: a model's upload, a commit record), it is one line, not a traceback.
STORAGE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "workers", None) is not None and args.workers < 1:
        print("curate: error: --workers must be at least 1", file=sys.stderr)
        return 2
    # SIGTERM becomes Terminated while a command runs, and the caller's handler comes back after it (a script that
    # calls main(), as train_stub.ablation does, is not left with a handler that raises into whatever it does next)
    previous = None
    if threading.current_thread() is threading.main_thread():  # (signal handlers belong to the main thread)
        previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        return run_command(args)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def run_command(args: argparse.Namespace) -> int:
    """A parsed command's exit status: its handler's, or one line and its code for each way it can fail."""
    try:
        return args.handler(args)
    except CurateError as error:
        print(f"curate: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("curate: interrupted; finished partitions are kept and a re-run resumes", file=sys.stderr)
        return 130
    except Terminated:
        print("curate: terminated (SIGTERM); finished partitions are kept and a re-run resumes", file=sys.stderr)
        return 128 + signal.SIGTERM
    except BrokenPipeError:  # the reader of our output went away (`curate run --dry-run | head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as error:  # (after BrokenPipeError, an OSError too)
        if error.errno not in STORAGE_ERRNOS:
            raise
        print(f"curate: error: {error.strerror}" + (f": {error.filename}" if error.filename else "")
              + "; make room (or fix the folder's permissions) and re-run: finished partitions are kept",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
