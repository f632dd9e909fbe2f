"""The measurement: client CPU time over interleaved rounds, and instruction
counts under callgrind.

Every variant runs in a client process of its own group (the variants that
share an environment and a transport, :func:`groups`), driven by
:class:`WorkerProcess`; the upstream is yet another process, so neither its
work nor the orchestrator's is ever counted.

**CPU** (:func:`measure_cpu`): for each cell, each variant makes its warm-up
calls, then the rounds: in every round each variant makes the cell's calls
once, the order rotating from round to round, and reports its own
``time.process_time`` for them. Rounds interleave the variants, so a burst of
load on the machine (it is shared) hits them all alike; the figures are the
median over the rounds and the ratios are medians of per-round ratios.

**Instructions** (:func:`count_instructions`): each group's process runs
again under ``valgrind --tool=callgrind``, once per group, every cell in
turn: warm-up calls, then the counters are zeroed, the cell's calls are made
and the counters are written out. The zero and the dump are callgrind's
``--zero-before`` and ``--dump-before`` on two libc functions that nothing but
the worker's ``zero`` and ``dump`` commands calls (``sched_getscheduler``,
``sched_getparam``), so start-up, imports and warm-up fall outside the count,
without a C extension for callgrind's client requests. Instruction counts do
not depend on how busy the machine is: they repeat to a fraction of a per
cent where CPU time moves by several.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Dict, List, Optional, Tuple

from benchmarks.environments import BUILD, ROOT, Environment
from benchmarks.records import CellResult, InstructionCount, Measurement, Sample
from benchmarks.variants import IN_PROCESS, Cell, Variant

Log = Callable[[str], None]


class WorkerError(RuntimeError):
    """A client process failed: its traceback, or how it ended."""


class WorkerProcess:
    """A running :mod:`benchmarks.worker`, spoken to one JSON line at a time."""

    def __init__(
        self,
        command: List[str],
        name: str,
        stderr_path: str,
    ) -> None:
        self.name = name
        self.stderr_path = stderr_path
        self._stderr: IO[bytes] = open(stderr_path, "wb")  # noqa: SIM115 - closed in close()
        env = dict(os.environ, PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1")
        env.pop("HTTP_MAX_CLIENTS", None)
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def request(self, **command: Any) -> Dict[str, Any]:
        """Send one command and return the answer; raise :exc:`WorkerError`
        with the worker's traceback (or stderr) when it fails."""
        assert self.process.stdin is not None and self.process.stdout is not None
        try:
            self.process.stdin.write(json.dumps(command) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            pass
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=30)
            raise WorkerError(
                f"the {self.name} process ended (exit {self.process.returncode}): "
                f"{self._stderr_tail()}"
            )
        answer: Dict[str, Any] = json.loads(line)
        if not answer.get("ok"):
            raise WorkerError(f"the {self.name} process failed {command}:\n{answer.get('error')}")
        return answer

    def _stderr_tail(self) -> str:
        self._stderr.flush()
        with open(self.stderr_path, encoding="utf-8", errors="replace") as stream:
            return "\n".join(stream.read().strip().splitlines()[-15:])

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.request(op="quit")
            except (WorkerError, OSError, ValueError):
                pass
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._stderr.close()


@dataclass
class Group:
    """Variants that share one client process: one environment, one transport."""

    environment: str
    transport: str
    variants: List[Variant] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.environment}/{self.transport}"


def groups(variants: List[Variant]) -> List[Group]:
    """The client processes needed: the in-process variants of an environment
    share one (each builds its own client), the others one per transport."""
    found: Dict[Tuple[str, str], Group] = {}
    for variant in variants:
        in_process = variant.kinds == (IN_PROCESS,)
        transport = "in-process" if in_process else variant.transport
        key = (variant.environment, transport)
        if key not in found:
            found[key] = Group(variant.environment, transport)
        found[key].variants.append(variant)
    return list(found.values())


def _worker_command(
    group: Group, environment: Environment, base: str, options: List[str]
) -> List[str]:
    assert environment.python is not None
    # The in-process group configures the instant client for its mixin variants.
    transport = "instant" if group.transport == "in-process" else group.transport
    return [
        environment.python,
        "-m",
        "benchmarks.worker",
        "--transport",
        transport,
        "--variants",
        ",".join(variant.name for variant in group.variants),
        "--base",
        base,
        *environment.worker_options,
        *options,
    ]


def start_workers(
    all_groups: List[Group],
    environments: Dict[str, Environment],
    base: str,
    log_dir: str,
    wrapper: Optional[Callable[[Group], List[str]]] = None,
) -> Dict[str, WorkerProcess]:
    """Start one process per group (all at once: their start-ups overlap).

    With a *wrapper* (callgrind's command line) the processes get long
    timeouts (:data:`benchmarks.calls.LONG_TIMEOUT`)."""
    os.makedirs(log_dir, exist_ok=True)
    started = {}
    for group in all_groups:
        command = _worker_command(
            group, environments[group.environment], base,
            [] if wrapper is None else ["--long-timeouts"],
        )
        if wrapper is not None:
            command = wrapper(group) + command
        stderr_path = os.path.join(log_dir, group.name.replace("/", "-") + ".stderr")
        started[group.name] = WorkerProcess(command, group.name, stderr_path)
    return started


@dataclass(frozen=True)
class CellPlan:
    """How one cell is measured."""

    cell: Cell
    variants: Tuple[str, ...]
    calls: int
    rounds: int
    warmup: int
    callgrind_calls: int
    callgrind_warmup: int


def _cell_command(cell: Cell) -> Dict[str, Any]:
    return {"kind": cell.kind, "fmt": cell.fmt, "size": cell.size, "concurrency": cell.concurrency}


def measure_cpu(
    plans: List[CellPlan],
    workers: Dict[str, WorkerProcess],
    group_of: Dict[str, str],
    log: Log,
) -> List[CellResult]:
    """Every cell's CPU figures over interleaved rounds."""
    results = []
    for plan in plans:
        cell = plan.cell
        result = CellResult(cell, plan.rounds)
        log(
            f"CPU {cell.key}: {len(plan.variants)} variants x {plan.rounds} rounds "
            f"x {plan.calls} calls"
        )
        for name in plan.variants:
            worker = workers[group_of[name]]
            answer = worker.request(op="prepare", variant=name, cell=_cell_command(cell))
            result.measurements[name] = Measurement(name, plan.calls, result=answer["result"])
            worker.request(
                op="run", variant=name, cell=cell.key, calls=plan.warmup,
                concurrency=cell.concurrency,
            )
        order = list(plan.variants)
        for round_number in range(plan.rounds):
            shift = round_number % len(order)
            for name in order[shift:] + order[:shift]:
                answer = workers[group_of[name]].request(
                    op="run", variant=name, cell=cell.key, calls=plan.calls,
                    concurrency=cell.concurrency,
                )
                result.measurements[name].samples.append(Sample(answer["cpu"], answer["wall"]))
        results.append(result)
    return results


def callgrind_available() -> Optional[str]:
    """valgrind's path, or None."""
    return shutil.which("valgrind")


def _read_summary(path: str) -> Tuple[str, int]:
    trigger, total = "", -1
    with open(path, encoding="utf-8", errors="replace") as stream:
        for line in stream:
            if line.startswith("desc: Trigger:"):
                trigger = line.split(":", 2)[2].strip()
            elif line.startswith("summary:"):
                total = int(line.split()[1])
                break
    if total < 0:
        raise WorkerError(f"no summary line in {path}")
    return trigger, total


def count_instructions(
    plans: List[CellPlan],
    results: List[CellResult],
    all_groups: List[Group],
    environments: Dict[str, Environment],
    base: str,
    runs: int,
    budget: float,
    log: Log,
) -> None:
    """Add instruction counts to *results* (the CPU results of the same plans).

    A cell whose estimated cost under callgrind (calls x instructions per call
    in the same cell run sequentially) is above *budget* instructions is left
    out for that variant, saying so: 1 MB decoded by u-msgpack-python costs
    about 10^9 instructions a call, which callgrind runs at a few 10^7 a second.
    """
    valgrind = callgrind_available()
    if valgrind is None:
        for result in results:
            for measurement in result.measurements.values():
                measurement.instructions_skipped = "valgrind is not installed"
        return
    by_key = {result.cell.key: result for result in results}
    for run in range(runs):
        for group in all_groups:
            names = {variant.name for variant in group.variants}
            work = [
                (plan, name) for plan in plans for name in plan.variants if name in names
            ]
            if not work:
                continue
            out_dir = os.path.join(
                BUILD, "callgrind", f"run{run + 1}", group.name.replace("/", "-")
            )
            shutil.rmtree(out_dir, ignore_errors=True)
            os.makedirs(out_dir)
            log(f"callgrind run {run + 1}/{runs}: {group.name} ({len(work)} measurements)")

            def wrapper(_group: Group, out_dir: str = out_dir) -> List[str]:
                return [
                    valgrind,
                    "--tool=callgrind",
                    f"--callgrind-out-file={os.path.join(out_dir, 'callgrind.out.%p')}",
                    "--zero-before=sched_getscheduler",
                    "--dump-before=sched_getparam",
                    f"--log-file={os.path.join(out_dir, 'valgrind.log')}",
                ]

            worker = start_workers([group], environments, base, out_dir, wrapper)[group.name]
            dumps = 0
            failed = ""
            try:
                for plan, name in work:
                    cell = plan.cell
                    measurement = by_key[cell.key].measurements[name]
                    if failed:
                        measurement.instructions_skipped = failed
                        continue
                    reason = _over_budget(plan, name, by_key, budget)
                    if reason:
                        measurement.instructions_skipped = reason
                        continue
                    try:
                        _count_one(worker, plan, name)
                    except WorkerError as error:
                        # Reported, and the rest of this process's counts left out:
                        # one failure does not lose the run's other figures.
                        log(f"callgrind: {name} in {cell.key} failed: {error}")
                        failed = f"callgrind failed: {str(error).splitlines()[-1]}"
                        measurement.instructions_skipped = failed
                        continue
                    dumps += 1
                    path = os.path.join(out_dir, f"callgrind.out.{worker.pid}.{dumps}")
                    trigger, total = _read_summary(path)
                    if "sched_getparam" not in trigger or os.path.exists(
                        os.path.join(out_dir, f"callgrind.out.{worker.pid}.{dumps + 1}")
                    ):
                        raise WorkerError(f"unexpected callgrind dumps in {out_dir}")
                    per_call = total / plan.callgrind_calls
                    if measurement.instructions is None:
                        measurement.instructions = InstructionCount(
                            plan.callgrind_calls, plan.callgrind_warmup, []
                        )
                    measurement.instructions.runs.append(per_call)
                    # Kept for callgrind_annotate: where this variant's instructions go.
                    label = f"{name}--{cell.key.replace('/', '-')}.callgrind"
                    os.rename(path, os.path.join(out_dir, label))
            finally:
                worker.close()


def _count_one(worker: WorkerProcess, plan: CellPlan, name: str) -> None:
    """Prepare, warm up, zero the counters, make the counted calls, dump."""
    cell = plan.cell
    # Sequential calls go to the upstream's /slow/ addresses (the module's docstring).
    worker.request(op="prepare", variant=name, cell=_cell_command(cell), slow=cell.concurrency == 1)
    worker.request(
        op="run", variant=name, cell=cell.key, calls=plan.callgrind_warmup,
        concurrency=cell.concurrency,
    )
    worker.request(op="collect")
    worker.request(op="zero")
    worker.request(
        op="run", variant=name, cell=cell.key, calls=plan.callgrind_calls,
        concurrency=cell.concurrency, collect=False,
    )
    worker.request(op="dump")


def _over_budget(
    plan: CellPlan, name: str, by_key: Dict[str, CellResult], budget: float
) -> str:
    cell = plan.cell
    if cell.concurrency == 1:
        return ""
    sequential = by_key.get(f"{cell.kind}/{cell.fmt}/{cell.size}/sequential")
    known = sequential.measurements.get(name) if sequential else None
    if known is None or known.instructions is None:
        return ""
    estimate = known.instructions.per_call * (plan.callgrind_calls + plan.callgrind_warmup)
    if estimate <= budget:
        return ""
    return (
        f"about {estimate / 1e9:,.0f}G instructions under callgrind "
        f"(over --callgrind-budget {budget / 1e9:g}G)"
    )
