"""aggregation layer (see DESIGN.md)."""
