"""Data tables about libraries and conventions: adding a library is adding rows here, not ifs in a rule."""
