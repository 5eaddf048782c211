"""attacks layer (see DESIGN.md)."""
