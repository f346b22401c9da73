"""Ray execution: an embedded local Ray started and stopped by curate, or an existing cluster.

Which Ray is used: `--address` when given; else the cluster of a `ray job submit` job (Ray sets RAY_ADDRESS for the
job's driver); else a local Ray started for this run, without the services that serve a cluster rather than a run
(start_local_ray). Ray starts when the first task is submitted, not before: a rerun whose nodes are all committed
starts no Ray at all. A Ray already initialised in this process (a test session's) is used as it is and left
running.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from curate.cpu import Measured
from curate.errors import RunError
from curate.executors.base import Executor, Outcome, R, T, TaskOptions, describe_error
from curate.executors.ray_reaper import start_reaper, stop_reaper

# With no task finished for this long, say what Ray is waiting for (a cluster with no free CPU waits forever).
STALL_NOTICE_S = 60.0


def cluster_line(address: str, nodes: list[dict[str, Any]]) -> str:
    """What a run joined, said before it starts. Example: "joined the Ray cluster at 10.0.0.5:6379: 3 nodes,
    48 CPUs" """
    alive = [n for n in nodes if n.get("Alive")]
    cpus = sum(n.get("Resources", {}).get("CPU", 0.0) for n in alive)
    return f"joined the Ray cluster at {address}: {len(alive)} node{'s' * (len(alive) != 1)}, {cpus:g} CPUs"


def stall_message(pending: int, seconds: float, available: dict[str, float], total: dict[str, float]) -> str:
    """One line on a map that has not progressed. Example: "no task finished in 60 s: 8 tasks wait for a CPU;
    the cluster has 0 of 0 CPUs free (each task needs 1): add nodes with CPUs, or use --executor local" """
    free, cpus = available.get("CPU", 0.0), total.get("CPU", 0.0)
    advice = (": add nodes with CPUs, or use --executor local" if free < 1 else
              "; the tasks are running (long partitions), or waiting for memory or objects")
    return (f"no task finished in {seconds:.0f} s: {pending} tasks pending; the cluster has {free:g} of {cpus:g} "
            f"CPUs free (each task needs 1){advice}")


def ray_log_file() -> str:
    """Where Ray's own log messages go for this run: a file, not the user's screen."""
    return os.path.join(tempfile.gettempdir(), f"curate-ray-{os.getpid()}.log")


@contextlib.contextmanager
def ray_messages_to(path: str) -> Iterator[None]:
    """Send the `ray` loggers' messages to `path` instead of the terminal: Ray prints, for instance, a warning
    about token authentication at every start, which is about Ray, not about the run. Ray installs its handlers
    at import and again in ray.init, so they are redirected after init too."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    ray_logger = logging.getLogger("ray")

    def redirect() -> None:
        for existing in list(ray_logger.handlers):
            if isinstance(existing, logging.StreamHandler) and not isinstance(existing, logging.FileHandler):
                ray_logger.removeHandler(existing)
        if handler not in ray_logger.handlers:
            ray_logger.addHandler(handler)

    redirect()
    try:
        yield
    finally:
        redirect()


@contextlib.contextmanager
def signals_held() -> Iterator[list[int]]:
    """Hold SIGINT and SIGTERM back while Ray starts, then deliver them to curate's own handlers.

    Interrupted half-way, Ray's start left its processes running (the node not yet known to be stopped), and
    `ray.init` makes SIGTERM a bare `sys.exit(15)` (ray._private.utils.set_sigterm_handler) until curate put its
    own handler back: a SIGTERM in those seconds exited 15 with Ray's C++ stack dump, and left 2 Ray processes
    (the fault campaign, tests/fault_campaign.py). Held, the signal arrives once the node is known, and the run
    stops it as after any interrupt. Yields the signals caught so far (the caller stops its other users of Ray
    before they are delivered). Off the main thread, where handlers cannot be set, nothing is held."""
    if threading.current_thread() is not threading.main_thread():
        yield []
        return
    import ray._private.utils as ray_utils

    caught: list[int] = []
    # a signal the process ignores (SIGINT in a background job of a shell) stays ignored
    previous = {number: handler for number in (signal.SIGINT, signal.SIGTERM)
                if (handler := signal.getsignal(number)) is not signal.SIG_IGN}
    for number in previous:
        signal.signal(number, lambda signum, frame: caught.append(signum))
    installs = ray_utils.set_sigterm_handler
    ray_utils.set_sigterm_handler = lambda handler: None
    try:
        yield caught
    finally:
        ray_utils.set_sigterm_handler = installs
        for number, handler in previous.items():
            signal.signal(number, handler)
    for signum in dict.fromkeys(caught):
        signal.raise_signal(signum)


def cluster_errors_to_log() -> None:
    """Send the errors the cluster publishes to this driver (a worker killed, a node lost) to the `ray` logger, that
    is to Ray's log file (ray_messages_to), rather than to the terminal. Ray's driver prints them from a thread
    (ray._private.worker.listen_error_messages) straight to stdout through its module function
    `print_to_stdstream`, past every logger and whatever log_to_driver says; that function is replaced here (kept
    for as long as the process lives: the thread outlives any one run). curate reports each failed task itself,
    with Ray's error, in one line. Where this Ray has no such function, nothing changes."""
    import ray._private.worker as ray_worker

    printed = getattr(ray_worker, "print_to_stdstream", None)
    if printed is None or getattr(printed, "curate_logs", False):
        return

    def to_log(data: dict[str, Any], ignore_prefix: bool = False) -> None:
        for line in data.get("lines", []):
            logging.getLogger("ray").warning("(%s) %s", data.get("pid", ""), line)

    to_log.curate_logs = True  # type: ignore[attr-defined]
    ray_worker.print_to_stdstream = to_log


def start_local_ray(cpus: int, dashboard: bool, dashboard_host: str = "127.0.0.1") -> Any:
    """Start a one-machine Ray for this run and return its head node, or None where this Ray's node API differs
    (then `ray.init` starts the usual set).

    Left out: the autoscaler's monitor and the log monitor, which serve a cluster, not a run: nothing scales an
    embedded Ray, and the log monitor forwards workers' output that curate does not show (log_to_driver=False). The
    monitor alone held every shutdown for 1 s (Ray sends it SIGTERM, waits its 1 s, then kills it). `ray.init` has
    no option for either, so the node is started as ray.init starts it (`ray._private.node.Node`, whose parameters
    `no_monitor` and `include_log_monitor` are those of `ray start`, unchanged from Ray 2.40 to 2.60) and the driver
    joins it by address. Measured on the 2-core development machine: start 3.5 s -> 2.4 s, shutdown 1.2-1.4 s ->
    0.3 s, 0.8 s less CPU at start (docs/scale.md)."""
    try:
        from ray._private.node import Node
        from ray._private.parameter import RayParams

        params = RayParams(num_cpus=cpus, include_dashboard=dashboard, dashboard_host=dashboard_host,
                           no_monitor=True, include_log_monitor=False)  # type: ignore[arg-type]  # a flag, typed str
        return Node(params, head=True, shutdown_at_exit=False, spawn_reaper=True, ray_init_cluster=True)
    except (ImportError, TypeError, AttributeError):
        return None


def call(fn: Callable[[T], Any], task: T) -> Any:
    """Run `fn(task)` in a Ray worker (`fn` may be any picklable callable)."""
    return fn(task)


class RayExecutor(Executor):
    def __init__(self, workers: int | None = None, address: str | None = None, dashboard: bool = False,
                 log: Callable[[str], None] = print) -> None:
        self.workers = workers
        self.address = address
        self.dashboard = dashboard
        self.log = log
        self._started_here = False
        self._node: Any = None  # the embedded Ray's head node, when start_local_ray started it
        self._reaper: subprocess.Popen[str] | None = None  # stops that node's processes if curate is killed
        self._log_file = ""  # where Ray's own messages went (ray_log_file), once Ray is started
        self._starting = threading.Lock()  # nodes running side by side may submit their first tasks at once
        self._stopping = False  # set when the run stops: no node thread starts using Ray any more

    @property
    def parallel(self) -> bool:
        return self.workers != 1 or self.address is not None

    def __enter__(self) -> RayExecutor:
        """Nothing starts yet: Ray starts (or is joined) when the first task is submitted, so a run whose every node
        is committed and current, or a dry run of the executor, costs no Ray start-up (2-6 s, measured)."""
        self._stopping = False
        return self

    def start(self, meanwhile: Callable[[], None] = lambda: None) -> None:
        import ray

        with self._starting:  # held: a `map` from the threads `meanwhile` launches waits for Ray here
            meanwhile()
            if not ray.is_initialized():
                self._start_ray()

    def _start(self) -> None:
        import ray

        with self._starting:
            if self._stopping:
                raise RunError("the run is stopping")
            if not ray.is_initialized():
                self._start_ray()

    def _start_ray(self) -> None:
        import ray

        address = self.address or os.environ.get("RAY_ADDRESS")
        started = time.perf_counter()
        log_file = self._log_file = ray_log_file()
        self.log(f"{'joining the Ray cluster at ' + address if address else 'starting a local Ray'} "
                 f"(Ray's own messages: {log_file})")
        with signals_held() as caught:  # a Ctrl-C or SIGTERM now is delivered once Ray is up, and stops it
            try:
                cluster_errors_to_log()
                with ray_messages_to(log_file):
                    if address:
                        ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
                    else:
                        self._reaper = start_reaper()  # first: Ray's processes inherit its mark
                        self._node = start_local_ray(self.workers or os.cpu_count() or 1, self.dashboard)
                        if self._node is not None:
                            context = ray.init(address=self._node.address, log_to_driver=False,
                                               logging_level=logging.WARNING)
                        else:
                            context = ray.init(num_cpus=self.workers or os.cpu_count(),
                                               include_dashboard=self.dashboard, dashboard_host="127.0.0.1",
                                               log_to_driver=False, logging_level=logging.WARNING)
            except Exception as error:  # Ray's own start-up errors ("node timed out during startup" on a loaded host)
                self._stop_started_node()
                where = f"join the Ray cluster at {address}" if address else "start a local Ray"
                raise RunError(f"could not {where}: {describe_error(error)} (Ray's own messages: {log_file})"
                               ) from None
            self._started_here = True
            # a signal held: the run stops once it is delivered; node threads waiting to submit must not start
            # using a Ray that __exit__ is about to shut down (the C++ core worker exits 1 when used after that)
            self._stopping = bool(caught)
        if address:
            self.log(cluster_line(ray.get_runtime_context().gcs_address, ray.nodes()))
        else:
            self.log(f"Ray started in {time.perf_counter() - started:.1f} s")
            if self.dashboard:
                self.log(f"Ray dashboard at http://{context.dashboard_url}")

    def __exit__(self, *exc: object) -> None:
        with self._starting:
            self._stopping = True
        if self._started_here:
            import ray

            ray.shutdown()  # disconnects; stops what ray.init started
            self._stop_started_node()
            self._started_here = False
            with contextlib.suppress(OSError):  # a log Ray wrote nothing to is not left behind, one per run
                if self._log_file and os.path.getsize(self._log_file) == 0:
                    os.remove(self._log_file)

    def _stop_started_node(self) -> None:
        """Stop the local Ray node start_local_ray started, if it did (its processes would outlive curate)."""
        if self._node is not None:
            self._node.kill_all_processes(check_alive=False, allow_graceful=True)
            self._node = None
        stop_reaper(self._reaper)
        self._reaper = None

    @property
    def joins_cluster(self) -> bool:
        """True when the run uses a cluster it did not start (`--address`, or a `ray job submit` job)."""
        return bool(self.address or os.environ.get("RAY_ADDRESS"))

    def run_serial(self, fn: Callable[[T], R], argument: T, options: TaskOptions = TaskOptions(),
                   isolated: bool = True) -> tuple[R, float]:
        """On a cluster it joined: one task with the node's `ray:` resources, so that the driver (the head node, or
        the job's host) only waits, and needs neither the tool (lmplz), nor the memory, nor the core. On the Ray it
        starts itself this machine is the whole cluster: in a process of its own (Executor.run_serial), which
        need not wait for Ray's start-up (2.5 s; DSIR's target counts and KenLM's corpus overlap it, docs/scale.md)."""
        if not self.joins_cluster:
            return super().run_serial(fn, argument, options, isolated)
        for _, measured, error in self.map(Measured(fn), [argument], options):
            if error is not None:
                raise RunError(error.removeprefix("RunError: "))
            result, cpu_s, _ = measured
            return result, cpu_s
        raise AssertionError("a map of one task yields one outcome")

    def map(self, fn: Callable[[T], Any], tasks: Sequence[T], options: TaskOptions = TaskOptions()
            ) -> Iterator[Outcome[T]]:
        if not tasks:
            return
        import ray

        self._start()
        resources: dict[str, Any] = {"num_cpus": options.num_cpus, "max_retries": options.max_retries,
                                     "name": f"curate {options.label or fn.__name__}"}
        if options.memory is not None:
            resources["memory"] = options.memory
        if options.num_gpus:
            resources["num_gpus"] = options.num_gpus
        remote: Any = ray.remote(call).options(**resources)  # a trampoline: ray.remote takes functions only
        pending = {remote.remote(fn, task): task for task in tasks}
        waited_since = time.monotonic()
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1, timeout=STALL_NOTICE_S)
            if not done:
                self.log(stall_message(len(pending), time.monotonic() - waited_since, ray.available_resources(),
                                       ray.cluster_resources()))
                continue
            waited_since = time.monotonic()
            ref = done[0]
            task = pending.pop(ref)
            try:
                yield task, ray.get(ref), None
            except Exception as error:  # a task's exception, or a worker that died; reported per partition
                cause = getattr(error, "cause", None) or error
                yield task, None, describe_error(cause)
