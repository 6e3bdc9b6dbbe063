"""Names vulture reports as unused that are used where it does not look (`make lint` reads this).

Each line names what uses it. Pydantic validators and `model_config` are ignored by rule in
pyproject.toml ([tool.vulture]). A name here stays out of the dead-code check everywhere, so keep
the list short and delete a line with the code it covers.
"""

# ruff: noqa: B018

_ = object()

# Enum members a config spells by value: EntityKind("org"), EntityKind("place").
_.ORG
_.PLACE

# DeliveryStats counters incremented by name (setattr(self, outcome, ...)).
_.retried
_.throttled

# Reference forms the tests hold the fast paths to (tests/match/test_scan.py, tests/sinks/test_render.py,
# tests/state/test_fingerprint.py, tests/text/test_skeleton.py) and that the state benchmark reads
# (benchmarks/bench_state.py).
_.chunk_safe
_.latin_skeletons_by_units
_.scan_field
_.match_directly
_.scan_directly
_.render_html
_.similarity
_.bands

# FileStamp.mtime (service/app.py) is read by FileStamp's equality, which notices a config edit.
_.mtime

# The registry records every sink, store and source module exports; service/registry.py reads them
# by name when it scans those packages.
_.SINK
_.STORE
_.SOURCE
