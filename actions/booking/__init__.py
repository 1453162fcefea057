"""Booking a slot in the electronic queue (issue 5): the dialogue, the
slot rules and the office catalogue. Storage is in storage/booking.py."""

from actions.booking.config import BookingRules, Office, Offices
from actions.booking.flow import BookingFlow

__all__ = ["BookingFlow", "BookingRules", "Office", "Offices"]
