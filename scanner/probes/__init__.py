"""The questions asked of a server: one module per probe, each with one entry point
(docs/design.md, "Layers")."""
