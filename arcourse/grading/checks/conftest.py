"""Markers of the graded checks (see arcourse/grading/api.py)."""


def pytest_configure(config):
    config.addinivalue_line("markers", "question(name, description): a graded question")
    config.addinivalue_line("markers", "points(value): the points a passing test earns")
