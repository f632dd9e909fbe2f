"""The mutation score per module, from mutmut's results, less the equivalent mutants.

Run from the project's root after ``mutmut run`` (``tox -e mutation`` runs both)::

    python ci/mutation_report.py [--min 95] [--show]

For each module in ``[tool.mutmut] only_mutate`` (pyproject.toml) it counts
the mutants mutmut killed (a timeout counts as killed, as mutmut counts it),
those that survived, and those of the survivors listed in
``tests/mutation-equivalents.txt``: changes to the code that no test can
notice because behaviour does not change. The score is
``killed / (killed + survived - equivalent)``.

Each line of the list is ``MUTANT :: MUTATED LINE :: WHY``: mutmut's name of
the mutant, the line as the mutant has it (whitespace ignored), and one
sentence saying why the mutant is equivalent (for a mutant that only removes
a line, ``removed: LINE``). Mutant names are numbered per
function, so when a function changes the numbers move: a listed name whose
mutant no longer has that line is reported as stale (judge it again), and
never counted as equivalent.

Exit status: 1 when a module scores below ``--min`` (95 by default) or a
line of the list is stale or malformed, else 0. ``--show`` prints the diff of
every survivor that is not listed, for judging; ``--only FILE`` counts only
the mutants named in FILE (after ``mutmut run`` of a sample of names).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Dict, List, NamedTuple, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
EQUIVALENTS = ROOT / "tests" / "mutation-equivalents.txt"
# mutmut's killed, timeout and type-check codes, and -11: the tests crashed
# (SIGSEGV) under the mutant, which is a failing run. -9 (SIGKILL) is not
# counted: an operator stopping the run sends it too.
KILLED = {1, 3, 24, -24, 36, 152, 255, 37, -11}
SURVIVED = {0, 5, 33}  # survived, no tests


class Listed(NamedTuple):
    line: str
    why: str
    number: int  # line number in the list


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def read_equivalents(path: Path = EQUIVALENTS) -> Tuple[Dict[str, Listed], List[str]]:
    """The list, by mutant name, and the problems found reading it."""
    listed: Dict[str, Listed] = {}
    problems: List[str] = []
    if not path.exists():
        return listed, problems
    for number, text in enumerate(path.read_text("utf-8").splitlines(), 1):
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        name, sep, rest = text.partition(" :: ")
        line, sep2, why = rest.rpartition(" :: ")
        if not (sep and sep2 and name.strip() and why.strip()):
            problems.append(f"{path.name}:{number}: not 'MUTANT :: MUTATED LINE :: WHY'")
            continue
        if name.strip() in listed:
            problems.append(f"{path.name}:{number}: {name.strip()} is listed twice")
        listed[name.strip()] = Listed(_normal(line), why.strip(), number)
    return listed, problems


def mutated_lines(name: str, module_path: str) -> Optional[List[str]]:
    """The lines the mutant adds (its diff's ``+`` lines), or None if unknown."""
    try:
        from mutmut.mutation.diff_apply import get_diff_for_mutant
    except ImportError:  # pragma: no cover - mutmut not installed
        return None
    try:
        diff = get_diff_for_mutant(name, path=module_path)
    except Exception:  # noqa: BLE001 - a mutant mutmut cannot show is "unknown"
        return None
    lines = diff.splitlines()
    added = [_normal(line[1:]) for line in lines if line[:1] == "+" and line[:3] != "+++"]
    if added:
        return added
    # A mutant that only removes a line (an argument): "removed: LINE".
    return [
        "removed: " + _normal(line[1:]) for line in lines if line[:1] == "-" and line[:3] != "---"
    ]


def modules() -> List[str]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    config = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    return list(config["tool"]["mutmut"]["only_mutate"])


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--min", type=float, default=95.0, help="lowest score per module")
    parser.add_argument("--show", action="store_true", help="print the diff of each real gap")
    parser.add_argument(
        "--only", type=Path, metavar="FILE",
        help="count only the mutants named in FILE, one a line (after mutmut run NAMES)",
    )
    args = parser.parse_args(argv)
    only = None
    if args.only is not None:
        only = {line.strip() for line in args.only.read_text("utf-8").splitlines() if line.strip()}

    listed, problems = read_equivalents()
    seen_listed = set()
    failed = bool(problems)
    rows = []
    gaps: List[Tuple[str, str]] = []
    for module_path in modules():
        meta = ROOT / "mutants" / (module_path + ".meta")
        if not meta.exists():
            rows.append((module_path, None))
            continue
        codes: Dict[str, Optional[int]] = json.loads(meta.read_text("utf-8"))["exit_code_by_key"]
        killed = survived = equivalent = unchecked = 0
        for name, code in sorted(codes.items()):
            if only is not None and name not in only:
                continue
            if code is None:
                unchecked += 1
            elif code in KILLED:
                killed += 1
            elif code in SURVIVED:
                entry = listed.get(name)
                if entry is not None:
                    seen_listed.add(name)
                    lines = mutated_lines(name, module_path)
                    if lines is not None and entry.line not in lines:
                        problems.append(
                            f"{EQUIVALENTS.name}:{entry.number}: {name} no longer has "
                            f"the line {entry.line!r}: judge it again"
                        )
                        failed = True
                        survived += 1
                        gaps.append((name, module_path))
                    else:
                        equivalent += 1
                else:
                    survived += 1
                    gaps.append((name, module_path))
            else:  # suspicious, SIGKILL, interrupted: not a verdict
                unchecked += 1
        rows.append((module_path, (killed, survived, equivalent, unchecked)))

    print(f"{'module':34} {'killed':>7} {'survived':>9} {'equivalent':>11} {'unchecked':>10}"
          f" {'score':>7}")
    for module_path, counts in rows:
        if counts is None:
            print(f"{module_path:34} {'(not run)':>7}")
            continue
        killed, survived, equivalent, unchecked = counts
        judged = killed + survived
        score = 100.0 * killed / judged if judged else 100.0
        if score < args.min or unchecked:
            failed = True
        print(f"{module_path:34} {killed:7d} {survived:9d} {equivalent:11d} {unchecked:10d}"
              f" {score:6.1f}%")
    for name in sorted(set(listed) - seen_listed):
        # Killed now, or gone: the line is no longer needed.
        print(f"note: {name} is listed as equivalent but did not survive (or no longer exists)")
    for problem in problems:
        print(problem)
    if gaps:
        print(f"\n{len(gaps)} surviving mutants are not listed as equivalent:")
        for name, module_path in gaps:
            print(f"  {name}")
            if args.show:
                from mutmut.mutation.diff_apply import get_diff_for_mutant

                print("    " + get_diff_for_mutant(name, path=module_path).replace("\n", "\n    "))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
