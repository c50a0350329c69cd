"""Request, response and stored shapes (pydantic v2)."""
