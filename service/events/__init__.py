"""Events: which reports, in any language and from any outlet, tell of the same thing.

`anchors` reads what a report is about in language-independent terms, `dates` the days it names,
`link` decides (purely) whether a report joins a remembered event. The stores keep the events and
apply `link.decide` atomically.
"""
