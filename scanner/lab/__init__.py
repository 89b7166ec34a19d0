"""Local servers that reproduce each failure case (tlscompat lab / demo, pytest fixtures)."""
