"""compression layer (see DESIGN.md)."""
