"""Writing to the audited files on request: source-preserving fixes and `# noqa` directives."""
