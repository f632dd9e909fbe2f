"""The results, as typed records: what :mod:`benchmarks.measure` fills in,
:mod:`benchmarks.report` prints and :mod:`benchmarks.chart` draws, and what
``--json`` writes (and ``--report-from`` reads back)."""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from benchmarks.variants import Cell


@dataclass
class Sample:
    """One round of one variant: CPU and wall seconds for ``calls`` calls."""

    cpu: float
    wall: float


@dataclass
class InstructionCount:
    """Instructions per call from callgrind, client process only: the calls
    between a zero and a dump of the counters, after ``warmup`` calls, divided
    by ``calls``. ``runs`` has one figure per callgrind run (``--callgrind-runs``)."""

    calls: int
    warmup: int
    runs: List[float]

    @property
    def per_call(self) -> float:
        return statistics.median(self.runs)

    @property
    def spread(self) -> float:
        """(max - min) / median over the runs: 0 for a single run."""
        return (max(self.runs) - min(self.runs)) / self.per_call if self.per_call else 0.0


@dataclass
class Measurement:
    """One variant in one cell."""

    variant: str
    calls: int
    samples: List[Sample] = field(default_factory=list)
    instructions: Optional[InstructionCount] = None
    #: Why there is no instruction count (too costly under callgrind, say).
    instructions_skipped: str = ""
    #: What the checked first call returned (:func:`benchmarks.worker._summary`).
    result: Dict[str, Any] = field(default_factory=dict)

    def cpu_per_call(self) -> List[float]:
        return [sample.cpu / self.calls for sample in self.samples]

    def wall_per_call(self) -> List[float]:
        return [sample.wall / self.calls for sample in self.samples]

    def cpu_median(self) -> float:
        return statistics.median(self.cpu_per_call())

    def cpu_spread(self) -> Tuple[float, float]:
        values = self.cpu_per_call()
        return min(values), max(values)


@dataclass
class CellResult:
    """Every variant measured in one cell."""

    cell: Cell
    rounds: int
    measurements: Dict[str, Measurement] = field(default_factory=dict)

    def cpu_ratio(self, variant: str, baseline: str) -> Optional[Tuple[float, float, float]]:
        """The CPU ratio of *variant* to *baseline*: the median of the per-round
        ratios (rounds interleave the variants, so a burst of load hits both
        sides of a ratio alike), with their minimum and maximum."""
        if variant not in self.measurements or baseline not in self.measurements:
            return None
        top, bottom = self.measurements[variant], self.measurements[baseline]
        ratios = [a / b for a, b in zip(top.cpu_per_call(), bottom.cpu_per_call()) if b > 0]
        if not ratios:
            return None
        return statistics.median(ratios), min(ratios), max(ratios)

    def instruction_ratio(self, variant: str, baseline: str) -> Optional[float]:
        top, bottom = self.measurements.get(variant), self.measurements.get(baseline)
        if top is None or bottom is None or not top.instructions or not bottom.instructions:
            return None
        return top.instructions.per_call / bottom.instructions.per_call


@dataclass
class RunResult:
    """A whole run: the machine it ran on, every cell, what was left out and why."""

    started: str
    seconds: float
    machine: Dict[str, Any]
    cells: List[CellResult] = field(default_factory=list)
    #: Variant name -> why it did not run.
    skipped: Dict[str, str] = field(default_factory=dict)
    #: Worker group -> what its process reported (versions, msgpack backend).
    info: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    memory: List[Dict[str, Any]] = field(default_factory=list)

    def cell(self, key: str) -> Optional[CellResult]:
        for result in self.cells:
            if result.cell.key == key:
                return result
        return None

    def to_json(self) -> Dict[str, Any]:
        data = asdict(self)
        for cell_data, result in zip(data["cells"], self.cells):
            cell_data["key"] = result.cell.key
        return data

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> RunResult:
        cells = []
        for cell_data in data["cells"]:
            measurements = {}
            for name, found in cell_data["measurements"].items():
                count = found.get("instructions")
                measurements[name] = Measurement(
                    variant=found["variant"],
                    calls=found["calls"],
                    samples=[Sample(**sample) for sample in found["samples"]],
                    instructions=InstructionCount(**count) if count else None,
                    instructions_skipped=found.get("instructions_skipped", ""),
                    result=found.get("result", {}),
                )
            cells.append(
                CellResult(Cell(**cell_data["cell"]), cell_data["rounds"], measurements)
            )
        return cls(
            started=data["started"],
            seconds=data["seconds"],
            machine=data["machine"],
            cells=cells,
            skipped=data.get("skipped", {}),
            info=data.get("info", {}),
            memory=data.get("memory", []),
        )
