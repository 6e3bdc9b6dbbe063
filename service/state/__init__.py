"""Where newsalert remembers things: feed state, seen items, and the alert outbox."""

from service.state.protocol import Delivery, DeliveryStatus, Store, StoryMatch

__all__ = ["Delivery", "DeliveryStatus", "Store", "StoryMatch"]
