"""The engine as installed (compiled by mypyc where a compiler was found) and its Python sources agree.

An install without a C compiler, or with NEWSALERT_PURE_PYTHON=1, runs the sources; everything else
in the suite runs whichever build is installed. Here `newsalert match` runs twice in subprocesses,
once as installed and once with the extension modules hidden, and both must explain the same items
the same way.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Import hook for the "python" run: inside service/ a finder that loads only .py sources, so the
# engine's extension modules (service/match/*.so, service/text/*.so) are passed over.
_RUN = """
import importlib.machinery as machinery
import json
import sys

if sys.argv[1] == "python":
    sources = (machinery.SourceFileLoader, machinery.SOURCE_SUFFIXES)
    engine = sys.argv.pop(2)

    def only_sources(path):
        if not path.startswith(engine):
            raise ImportError  # the standard library and the rest: the usual finders
        return machinery.FileFinder(path, sources)

    sys.path_hooks.insert(0, only_sources)
    sys.path_importer_cache.clear()

import service.match.scan
from service.cli import main

print(json.dumps({"scan": service.match.scan.__file__}), flush=True)
sys.argv = ["newsalert", *sys.argv[2:]]
main()
"""


def _match(build: str, *args: str) -> tuple[str, list[dict[str, object]]]:
    hidden = [str(REPO / "service")] if build == "python" else []
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _RUN,
            build,
            *hidden,
            "match",
            "--config",
            "config.example.toml",
            "--json",
            *args,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    return json.loads(lines[0])["scan"], [json.loads(line) for line in lines[1:]]


def test_the_python_sources_explain_items_exactly_as_the_installed_engine() -> None:
    installed: list[dict[str, object]] = []
    sources: list[dict[str, object]] = []
    for path in ("examples/demo-feed.xml", "tests/fixtures/seed-article.txt"):
        installed_file, found = _match("installed", path)
        installed += found
        source_file, found = _match("python", path)
        sources += found
        assert source_file.endswith("scan.py")  # the hook did hide any compiled build
    assert len(installed) == 7
    assert sources == installed
    seed = installed[-1]["matches"]
    assert isinstance(seed, list)
    texts = {hit["text"] for match in seed for hit in match["hits"]}
    assert {"صواريخ", "بصاروخين", "كاتيوشا", "مطار بغداد الدولي", "إسماعيل قاآني"} <= texts
    assert installed_file.endswith((".py", ".so"))
