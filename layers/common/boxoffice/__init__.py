"""Boxoffice: seat holds, metered checkout admission and bookings (the common layer)."""
