"""Where each client process runs: which interpreter, with what importable.

* ``project``: the interpreter running the benchmark, with this project and
  whatever is installed beside it (the ``fast``, ``curl`` and ``bench``
  extras for the full table).
* ``default-install``: the same interpreter with ``import msgpack`` made to
  fail (``python -m benchmarks.worker --without-msgpack``), which is exactly
  what this project sees when installed without the ``fast`` extra: it picks
  u-msgpack-python by itself, so the benchmark needs no switch inside it.
* ``sprockets-2.6.0``: a virtualenv under ``build/benchmarks/`` with the
  published sprockets.mixins.http 2.6.0, installed from the package index by
  :func:`prepare_original` the first time (and again when the pins change),
  on Python 3.9 to 3.11 (what its dependencies support), with the same
  tornado, u-msgpack-python and ietfparse versions as the project's
  interpreter so that the comparison is of the mixins alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import metadata
from typing import Callable, Dict, List, Optional

from benchmarks.variants import DEFAULT_INSTALL, ORIGINAL, PROJECT

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "build", "benchmarks")
ORIGINAL_REQUIREMENT = "sprockets.mixins.http==2.6.0"
#: Python versions sprockets.mixins.http 2.6.0's dependencies install on.
ORIGINAL_PYTHONS = ((3, 9), (3, 10), (3, 11))


@dataclass
class Environment:
    """An interpreter and the worker options that make one environment."""

    name: str
    python: Optional[str]
    worker_options: List[str] = field(default_factory=list)
    #: Why it cannot be used, when ``python`` is None.
    unavailable: str = ""
    #: ``python -c`` answers for importability, cached.
    _importable: Dict[str, bool] = field(default_factory=dict)

    def importable(self, module: str) -> bool:
        """Whether *module* can be imported in this environment."""
        if self.python is None:
            return False
        if module == "msgpack" and "--without-msgpack" in self.worker_options:
            return False
        if module not in self._importable:
            if self.python == sys.executable:
                try:
                    __import__(module)
                    found = True
                except ImportError:
                    found = False
            else:
                found = (
                    subprocess.run(
                        [self.python, "-c", f"import {module}"],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                        check=False,
                    ).returncode
                    == 0
                )
            self._importable[module] = found
        return self._importable[module]


def _version(distribution: str) -> str:
    return metadata.version(distribution)


def original_pins() -> List[str]:
    """The requirements installed beside 2.6.0: the project's own versions."""
    return [
        ORIGINAL_REQUIREMENT,
        f"tornado=={_version('tornado')}",
        f"u-msgpack-python=={_version('u-msgpack-python')}",
        f"ietfparse=={_version('ietfparse')}",
    ]


def _find_original_python(requested: Optional[str]) -> Optional[str]:
    if requested:
        return requested
    if sys.version_info[:2] in ORIGINAL_PYTHONS:
        return sys.executable
    for minor in (11, 10, 9):
        found = shutil.which(f"python3.{minor}")
        if found:
            return found
    return None


def prepare_original(
    log: Callable[[str], None], python: Optional[str] = None, install: bool = True
) -> Environment:
    """The sprockets.mixins.http 2.6.0 environment, made if needed.

    Unavailable (with the reason) when no Python 3.9-3.11 is found, when
    *install* is false and it was never made, or when installing fails (no
    network, say).
    """
    base_python = _find_original_python(python)
    if base_python is None:
        return Environment(
            ORIGINAL, None, unavailable="no Python 3.9-3.11 found (use --original-python)"
        )
    where = os.path.join(BUILD, "venv-sprockets.mixins.http-2.6.0")
    venv_python = os.path.join(where, "bin", "python")
    marker = os.path.join(where, "benchmark-pins.txt")
    pins = original_pins()
    wanted = "\n".join([base_python, *pins]) + "\n"
    if os.path.exists(marker):
        with open(marker, encoding="utf-8") as stream:
            if stream.read() == wanted:
                return Environment(ORIGINAL, venv_python)
    if not install:
        return Environment(ORIGINAL, None, unavailable=f"not installed in {where}")
    log(f"installing {' '.join(pins)} into {os.path.relpath(where, ROOT)}")
    install = ["install", "-q", "--disable-pip-version-check", *pins]
    # Quicker: a virtualenv without pip of its own, filled by this interpreter's
    # pip (--python, pip 22.3 and later); else the usual way.
    quick = [
        [base_python, "-m", "venv", "--without-pip", where],
        [sys.executable, "-m", "pip", "--python", venv_python, *install],
    ]
    usual = [[base_python, "-m", "venv", where], [venv_python, "-m", "pip", *install]]
    failure = ""
    for steps in (quick, usual):
        shutil.rmtree(where, ignore_errors=True)
        failure = _run_steps(steps)
        if not failure:
            break
    if failure:
        return Environment(ORIGINAL, None, unavailable=failure)
    with open(marker, "w", encoding="utf-8") as stream:
        stream.write(wanted)
    return Environment(ORIGINAL, venv_python)


def _run_steps(steps: List[List[str]]) -> str:
    """Run each command; '' when all succeed, else what failed."""
    for step in steps:
        done = subprocess.run(
            step, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False,
            timeout=900,
        )
        if done.returncode != 0:
            tail = " | ".join(done.stdout.strip().splitlines()[-3:])
            return f"{' '.join(step[:4])} failed: {tail}"
    return ""


def environments(
    log: Callable[[str], None],
    with_original: bool,
    original_python: Optional[str] = None,
) -> Dict[str, Environment]:
    """The three environments; the 2.6.0 one made (if *with_original*) or
    marked unavailable."""
    found = {
        PROJECT: Environment(PROJECT, sys.executable),
        DEFAULT_INSTALL: Environment(DEFAULT_INSTALL, sys.executable, ["--without-msgpack"]),
    }
    if with_original:
        found[ORIGINAL] = prepare_original(log, original_python)
    else:
        found[ORIGINAL] = Environment(ORIGINAL, None, unavailable="not asked for")
    return found
