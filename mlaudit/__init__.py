"""mlaudit: a static linter and reproducibility auditor for machine-learning repositories."""

__version__ = "0.1.0"
