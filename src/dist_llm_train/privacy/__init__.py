"""privacy layer (see DESIGN.md)."""
