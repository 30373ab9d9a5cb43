import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_terminal_summary(terminalreporter):
    """Print, for each probe module that ran, how many probes it has and how many were handled well."""
    for name, module in sorted(sys.modules.items()):
        probes, results = getattr(module, "PROBES", None), getattr(module, "RESULTS", None)
        if name.split(".")[-1].startswith("test_") and probes and isinstance(results, dict) and results:
            terminalreporter.write_line(f"{name.split('.')[-1]}: {len(probes)} probes, "
                                        f"{sum(results.values())} handled well, {len(results)} run")
