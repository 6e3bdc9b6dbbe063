"""structlog set up to write to standard error, as JSON lines or for a human at a terminal, and the
`Logger` port the rest of the service logs through.

Standard output belongs to what a command prints for the user (alerts, `match` results), so logs never
go there.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Protocol

import structlog
from structlog.typing import FilteringBoundLogger


class Logger(Protocol):
    """The part of a structlog bound logger the service calls: an event name and its context as keywords."""

    def bind(self, **context: Any) -> Logger: ...

    def debug(self, event: str, **context: Any) -> None: ...

    def info(self, event: str, **context: Any) -> None: ...

    def warning(self, event: str, **context: Any) -> None: ...

    def error(self, event: str, **context: Any) -> None: ...

    def exception(self, event: str, **context: Any) -> None: ...


_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def configure_logging(fmt: str = "json", level: str = "info") -> None:
    renderer: Any
    if fmt == "console":
        renderer = structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    else:
        renderer = structlog.processors.JSONRenderer(ensure_ascii=False)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS.get(level, logging.INFO)),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(**context: Any) -> Logger:
    # configure_logging wraps every logger in a filtering bound logger; naming its type lets mypy
    # check that it satisfies the port.
    logger: FilteringBoundLogger = structlog.get_logger()
    return logger.bind(**context)
