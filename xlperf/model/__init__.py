"""What a return holds, without checking it: values, targets, indicator rows, projects and
declarations (a regular package, so that a wheel built with ``packages = find:`` carries it)."""
