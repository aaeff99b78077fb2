"""Per-file extractors: plain, typed facts gathered in one walk of each file (see docs/architecture.md)."""
