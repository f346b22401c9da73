"""Nodes that do not depend on each other run side by side when the executor is parallel (curate/dag.py,
ConcurrentRun): a node waits for exactly the nodes it reads, a failure stops what reads the failed node and nothing
else, and a node's driver CPU is its own thread's."""

from __future__ import annotations

import threading
import time

import pytest

from curate.config import NodeSpec
from curate.cpu import driver_cpu
from curate.dag import ConcurrentRun
from curate.errors import RunError
from curate.stats import NodeReport


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

    run = ConcurrentRun([node("a"), node("b"), node("c", "a")], run_node)
    run.launch()
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

    run = ConcurrentRun([node("a"), node("b"), node("c", "a")], run_node)
    run.launch()
    with pytest.raises(RunError, match="broken input"):
        run.wait()
    assert sorted(ran) == ["a", "b"]  # b, independent, ran to the end; c, which reads a, never started


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
