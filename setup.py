"""Build hook: compile the matching engine (service/match, service/text) to C with mypyc.

The engine runs for every item of every feed and is fully typed (mypy --strict), so mypyc turns it
into extension modules with the same behaviour (benchmarks/README.md). Three small modules are
written in C: service/match/_chunks.c holds the scan's chunk memo, service/text/_fold.c folds text
in one pass and service/text/_skeleton.c finds the words that may start a cross-script name. The
Python sources stay importable, and all three have Python twins: with NEWSALERT_PURE_PYTHON=1, where
no C compiler or Python headers are found, or when compiling fails, the package installs as plain
Python and behaves the same, only slower.

Everything else lives in pyproject.toml.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from pathlib import Path

from setuptools import Extension, setup

HERE = Path(__file__).resolve().parent
COMPILED = ("service/match", "service/text")
# setuptools commands that build code; metadata queries (egg_info, dist_info, sdist) skip mypyc.
BUILDING = {"build", "build_ext", "bdist_wheel", "editable_wheel", "develop", "install"}


def _compiler_found() -> bool:
    """A C compiler and the Python headers (Debian: gcc and python3-dev)."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    headers = Path(sysconfig.get_paths()["include"], "Python.h")
    return shutil.which(compiler) is not None and headers.exists()


def _extensions() -> list[object]:
    if os.environ.get("NEWSALERT_PURE_PYTHON") or not BUILDING.intersection(sys.argv[1:]):
        return []
    if not _compiler_found():
        print("newsalert: no C compiler found; installing the matching engine as plain Python")
        return []
    # Modules written in C: the scan's chunk memo, the one-pass folder behind normalise, and the
    # finder of the words that may start a name.
    chunks = [
        Extension("service.match._chunks", ["service/match/_chunks.c"], optional=True),
        Extension("service.text._fold", ["service/text/_fold.c"], optional=True),
        Extension("service.text._skeleton", ["service/text/_skeleton.c"], optional=True),
    ]
    try:
        from mypyc.build import mypycify
    except ImportError:
        print("newsalert: mypyc is not available; installing the matching engine as plain Python")
        return chunks
    modules = sorted(
        str(path.relative_to(HERE)) for folder in COMPILED for path in (HERE / folder).glob("*.py")
    )
    # The project's own mypy settings name a plugin of a runtime dependency, which a build
    # environment does not hold; the engine imports nothing that needs it.
    options = ["--config-file=", "--ignore-missing-imports", "--python-version=3.11"]
    extensions = mypycify([*options, *modules], opt_level="3")
    for extension in extensions:
        extension.optional = True  # a compiler that fails after all leaves the Python sources in use
    return [*extensions, *chunks]


os.chdir(HERE)  # mypyc writes its C sources under ./build
setup(ext_modules=_extensions())
