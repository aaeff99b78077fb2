"""`python -m mlaudit`: the `mlaudit` command.

`python -m` puts the working folder first on `sys.path`. Run inside a checkout being audited, that
would let a module of the checkout named like one mlaudit imports (`argparse.py`, `yaml/`) be
imported in its place, so the folder is taken off again before anything else is imported. (A
checkout's own `mlaudit/` package is found before this file runs; docs/security.md.)
"""

import os
import sys

if sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

from mlaudit.cli import entry  # after the path is made safe

entry()
