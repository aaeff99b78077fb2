"""Leaf layer: what a file is (kinds and roles), reading it safely, and every parser. Imports nothing else of mlaudit."""
