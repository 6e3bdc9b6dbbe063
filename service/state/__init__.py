"""Where newsalert remembers things: feed state, seen items, and the alert outbox."""

from service.state.protocol import Delivery, DeliveryStatus, EventMatch, Store

__all__ = ["Delivery", "DeliveryStatus", "EventMatch", "Store"]
