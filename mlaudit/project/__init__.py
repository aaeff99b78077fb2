"""What the repository is: its files, their kinds, and git state. Built once per run."""
