"""Where alerts go. Every sink is an object behind one small interface (`Sink`)."""

from service.sinks.base import Sink

__all__ = ["Sink"]
