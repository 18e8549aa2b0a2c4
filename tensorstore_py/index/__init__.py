"""See ../shared/DESIGN.md for this layer."""

__all__: list[str] = []
