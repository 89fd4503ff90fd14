"""The toy exercise used by tests/test_grading_*.py: its checks run only under the grader."""
collect_ignore_glob = ["checks/*", "solutions/*"]
