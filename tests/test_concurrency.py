"""Nodes that do not depend on each other run side by side when the executor is parallel (curate/dag.py,
ConcurrentRun): a node waits for exactly the nodes it reads, a failure stops what reads the failed node and nothing
else, and a node's driver CPU is its own thread's."""

from __future__ import annotations

import textwrap
import threading
import time

import pytest

from curate.config import NodeSpec, load_pipeline
from curate.cpu import driver_cpu
from curate.dag import ConcurrentRun, run_pipeline
from curate.errors import RunError
from curate.executors.local import LocalExecutor
from curate.ops.base import OperationContext
from curate.progress import NoProgress
from curate.stats import NodeReport
from tests.conftest import output_files
from tests.warc_factory import SAMPLE_DIR


def node(name: str, *inputs: str) -> NodeSpec:
    return NodeSpec(name=name, operation="train_bpe" if inputs else None, options={"input": inputs[0]} if inputs
                    else {})


def report(name: str) -> NodeReport:
    return NodeReport(name, 1, 1, 0, [], 0, 0, 0.0)


def test_independent_nodes_overlap_and_dependents_wait():
    b_running = threading.Event()
    finished: list[str] = []

    def run_node(spec: NodeSpec) -> NodeReport:
        if spec.name == "a":  # a can only finish while b runs: sequential execution would wait forever
            assert b_running.wait(timeout=10), "b did not run beside a"
        if spec.name == "b":
            b_running.set()
            time.sleep(0.2)
        finished.append(spec.name)
        return report(spec.name)

    run = ConcurrentRun([node("a"), node("b"), node("c", "a")])
    run.launch(run_node)
    assert [r.name for r in run.wait()] == ["a", "b", "c"]  # reports in the nodes' order, whatever the timing
    assert finished.index("c") > finished.index("a")


def test_a_failure_skips_its_readers_and_lets_the_rest_finish():
    ran: list[str] = []

    def run_node(spec: NodeSpec) -> NodeReport:
        ran.append(spec.name)
        if spec.name == "a":
            raise RunError("node 'a': broken input")
        time.sleep(0.1)
        return report(spec.name)

    run = ConcurrentRun([node("a"), node("b"), node("c", "a")])
    run.launch(run_node)
    with pytest.raises(RunError, match="broken input"):
        run.wait()
    assert sorted(ran) == ["a", "b"]  # b, independent, ran to the end; c, which reads a, never started


def classifier(name: str, negative: str, calibrate: str) -> NodeSpec:
    return NodeSpec(name=name, operation="train_fasttext", options={"negative": negative, "calibrate": calibrate})


def test_a_late_input_is_waited_for_by_the_node_not_before_it_starts():
    trained = threading.Event()
    events: list[str] = []
    run = ConcurrentRun([node("extracted"), node("english", "extracted"), classifier("model", "extracted", "english")])

    def run_node(spec: NodeSpec) -> NodeReport:
        if spec.name == "english":  # finishes only once the classifier has trained: it must start without english
            assert trained.wait(timeout=5), "the classifier waited for its calibration node before training"
            events.append("english done")
        if spec.name == "model":
            trained.set()
            run.wait_for("english")
            events.append("model read english")
        return report(spec.name)

    run.launch(run_node)
    assert [r.name for r in run.wait()] == ["extracted", "english", "model"]
    assert events == ["english done", "model read english"]


def test_what_each_training_waits_for_before_it_starts():
    """The work that needs no node output starts at once: KenLM's and the classifier's training before the node
    they are calibrated on, DSIR's target counts before its input (each then waits for the node it reads late)."""
    fasttext = classifier("model", "extracted", "english")
    kenlm = NodeSpec(name="lm", operation="train_kenlm", options={"text": ["t.jsonl"], "calibrate": "english"})
    dsir = NodeSpec(name="selected", operation="dsir", options={"input": "scored", "target": ["t.jsonl"]})
    assert (fasttext.upstream, fasttext.needed_at_start) == (("extracted", "english"), ("extracted",))
    assert (kenlm.upstream, kenlm.needed_at_start) == (("english",), ())
    assert (dsir.upstream, dsir.needed_at_start) == (("scored",), ())


def test_a_failed_late_input_fails_the_node_that_waits_for_it():
    def run_node(spec: NodeSpec) -> NodeReport:
        if spec.name == "english":
            raise RunError("node 'english': broken model")
        if spec.name == "model":
            run.wait_for("english")
        return report(spec.name)

    run = ConcurrentRun([node("extracted"), node("english", "extracted"), classifier("model", "extracted", "english")])
    run.launch(run_node)
    with pytest.raises(RunError, match="broken model"):  # the cause, raised first in the nodes' order
        run.wait()
    assert isinstance(run.errors["model"], RunError) and "'english' did not complete" in str(run.errors["model"])


def test_driver_cpu_in_a_node_thread_is_that_thread_s():
    measured: list[float] = []

    def idle_node() -> None:
        started = driver_cpu()
        time.sleep(0.6)  # while the main thread burns CPU
        measured.append(driver_cpu() - started)

    thread = threading.Thread(target=idle_node)
    thread.start()
    deadline = time.perf_counter() + 0.5
    while time.perf_counter() < deadline:
        pass
    thread.join()
    assert measured[0] < 0.1  # the process used about 0.5 s of CPU meanwhile, none of it this thread's


def test_waiting_for_a_late_input_is_not_the_node_s_wall_time():
    context = OperationContext("model", None, "fingerprint", None, {}, {}, lambda line: None, NoProgress(),
                               lambda *args: None, await_node=lambda node: time.sleep(0.3))
    context.wait_for("english")
    assert context.waited_s >= 0.3  # run_operation_node subtracts it from the node's and its stage's wall time


def test_reading_a_late_input_waits_for_it_and_no_other():
    """An operation need not call wait_for itself: reading a late input through the context does."""
    awaited: list[str] = []
    context = OperationContext("model", None, "fingerprint", None, {"english": [], "text": []}, {}, lambda line: None,
                               NoProgress(), lambda *args: None, await_node=awaited.append, late=frozenset({"english"}))
    assert context.paths("text") == [] and awaited == []
    assert context.paths("english") == [] and awaited == ["english"]


@pytest.mark.slow
def test_late_inputs_side_by_side_give_the_bytes_of_one_node_at_a_time(tmp_path, corpus):
    """A classifier calibrated on a node and a DSIR node, both started before the node they read late, on a
    two-process pool: the same model, quantiles and selected documents as nodes run one after the other."""
    target = f"{corpus}/target_text/*.jsonl"
    path = tmp_path / "late.yaml"
    path.write_text(textwrap.dedent(f"""
        nodes:
          text:
            input: {{warc: "{SAMPLE_DIR}/*.warc*"}}
            steps: [{{extract: {{engine: trafilatura}}}}, {{normalize: {{form: NFC}}}}]  # slower than the counts
          long:
            input: text
            steps: [{{min_length: {{min_chars: 500}}}}]
          model:
            train_fasttext: {{positive: "{target}", negative: text, calibrate: long, max_examples: 1000}}
          selected:
            dsir: {{input: long, target: "{target}", keep_fraction: 0.5}}
    """))
    for name, workers in (("serial", 1), ("side_by_side", 2)):
        with LocalExecutor(workers=workers) as executor:
            run_pipeline(load_pipeline(str(path), workdir=str(tmp_path / name)), executor, log=lambda line: None)
    serial, side_by_side = tmp_path / "serial", tmp_path / "side_by_side"
    assert output_files(serial) == output_files(side_by_side) and output_files(serial)
    for artefact in ("model/model.bin", "model/quantiles.json"):
        assert (serial / artefact).read_bytes() == (side_by_side / artefact).read_bytes()
