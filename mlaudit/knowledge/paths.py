"""What ML403 (machine-specific paths) knows about file systems: which folders exist only on a
cluster. Adding a cluster file system is adding a row here.
"""

from __future__ import annotations

# Cluster file systems, reported even bare (`os.path.join("/checkpoint", user, name)`).
CLUSTER_ROOTS = frozenset({"/checkpoint", "/scratch", "/lustre", "/gpfs"})
