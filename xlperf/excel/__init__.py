"""excel layer."""
