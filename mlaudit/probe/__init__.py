"""`mlaudit probe`: run one training step several times in fresh processes and compare bit for bit.

The parent side (target, runner, compare, explain, command) never imports torch at module level;
only `worker.py`, which runs in the subprocess, does. Keep this package's `__init__` empty of
imports so that starting a worker stays cheap.
"""
