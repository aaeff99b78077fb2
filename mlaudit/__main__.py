from mlaudit.cli import entry

entry()
