"""Where news comes from: one module per kind of source (the `type` of a `[[feeds]]` entry).

Each module exports `SOURCE = SourceType(...)` (see `service.registry`): its entry's model, built on
`FeedOptions`, the URL it polls, and the pure reader that turns a fetched body into items. The pipeline
fetches (conditional GET, limits, politeness) and hands the body to the feed's reader.
"""
