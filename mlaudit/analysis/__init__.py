"""Project-wide analyses built from per-file facts (config index, module graph, ...)."""
