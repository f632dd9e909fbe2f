"""The benchmark's own machinery (benchmarks/, issue 12): what the performance
page shows is what its saved figures say, the figures survive their JSON, a
client process without the fast extra really decodes with u-msgpack-python,
and callgrind's files are read as written.

(.ci/run runs ``python benchmarks/run.py --smoke``, which runs every variant.)
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import measure, report  # noqa: E402
from benchmarks.records import RunResult  # noqa: E402
from benchmarks.variants import BY_NAME, CONCURRENCY, HTTP, IN_PROCESS, Cell  # noqa: E402

FIGURES = ROOT / "docs" / "figures"


@pytest.fixture(scope="module")
def saved() -> dict:
    return json.loads((FIGURES / "performance.json").read_text("utf-8"))


def test_the_page_shows_the_report_of_its_saved_figures(saved):
    text = report.render(RunResult.from_json(saved))
    assert (FIGURES / "performance.txt").read_text("utf-8") == text, (
        "run python benchmarks/run.py --report-from docs/figures/performance.json --write-docs"
    )


SLOW_AT_1M_CONCURRENT = ("simple+umsgpack", "sprockets.mixins.http-2.6.0", "default")


def test_the_saved_figures_cover_issue_12s_table(saved):
    result = RunResult.from_json(saved)
    for size in ("1k", "1m"):
        for concurrency in (1, CONCURRENCY):
            cell = result.cell(Cell(HTTP, "msgpack", size, concurrency).key)
            assert cell is not None
            for name in report.TABLE_ROWS[:8]:  # A to G and A+
                measurement = cell.measurements[name]
                assert len(measurement.samples) == cell.rounds >= 3
                # Instructions are counted in every cell but the 1 MB ones
                # with 100 in flight of B, C and D (u-msgpack-python's decode
                # of 100 MB: hours under callgrind).
                if concurrency == 1 or size == "1k" or name not in SLOW_AT_1M_CONCURRENT:
                    assert measurement.instructions is not None, (name, cell.cell.key)
                    assert len(measurement.instructions.runs) >= 1


def test_results_survive_their_json(saved):
    result = RunResult.from_json(saved)
    assert RunResult.from_json(json.loads(json.dumps(result.to_json()))) == result


def test_a_cell_runs_the_variants_of_its_kind():
    http = Cell(HTTP, "msgpack", "1k", 1)
    assert http.runs(BY_NAME["fast-curl"]) and not http.runs(BY_NAME["request-object"])
    big = Cell(IN_PROCESS, "msgpack", "1m", 1)
    # What does not depend on the document's size is measured at 1 KB only.
    assert big.runs(BY_NAME["decode-msgpack"]) and not big.runs(BY_NAME["request-object"])
    assert Cell(HTTP, "msgpack", "1m", CONCURRENCY).key == "http/msgpack/1m/concurrent"


def test_the_default_install_process_decodes_with_u_msgpack_python():
    # The D row is this project with `import msgpack` failing in its process.
    answers = []
    for options in ([], ["--without-msgpack"]):
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.worker", "--transport", "none",
             "--variants", "decode-content-fast", *options],
            cwd=ROOT, input='{"op": "info"}\n{"op": "quit"}\n', capture_output=True,
            text=True, timeout=120, check=True,
        )
        answers.append(json.loads(done.stdout.splitlines()[0])["info"])
    pytest.importorskip("msgpack")
    assert [answer["msgpack_backend"] for answer in answers] == ["msgpack", "umsgpack"]
    assert answers[1]["msgpack_importable"] is False


def test_a_callgrind_dump_is_read_by_its_summary_line(tmp_path):
    dump = tmp_path / "callgrind.out.1.1"
    dump.write_text(
        "# callgrind format\nversion: 1\npart: 1\n"
        "desc: Trigger: --dump-before=sched_getparam\n"
        "events: Ir\nsummary: 123456789\ntotals: 123456999\nfn=(1) main\n0 5\n"
    )
    assert measure._read_summary(str(dump)) == ("--dump-before=sched_getparam", 123456789)
    dump.write_text("events: Ir\n")
    with pytest.raises(measure.WorkerError):
        measure._read_summary(str(dump))
