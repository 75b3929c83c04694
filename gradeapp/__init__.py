"""gradeapp: the Skill-Mix grading desk (core package, Qt-free)."""

__version__ = "0.1.0"
