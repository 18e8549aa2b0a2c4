"""Context and its shared resources (see ../shared/DESIGN.md)."""

__all__: list[str] = []
