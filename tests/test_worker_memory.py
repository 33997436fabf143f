"""The engine process keeps freed memory for reuse (engine.worker.keep_freed_memory): a tensor the size
of the tuple CNN's activations, freed and made again, comes back without fresh pages from the kernel."""

import subprocess
import sys

import pytest

# Counts the page faults of making a 32 MB tensor a second time, after freeing the first one.
SCRIPT = """
import resource, sys, torch
if sys.argv[1] == "keep":
    from engine.worker import keep_freed_memory
    keep_freed_memory()
faults = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_minflt
x = torch.empty(8 << 20).fill_(1.0)
del x
before = faults()
x = torch.empty(8 << 20).fill_(1.0)
print(faults() - before)
"""


def faults_on_reuse(mode: str) -> int:
    result = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return int(result.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc settings exist on Linux only")
def test_freed_memory_is_reused_without_page_faults():
    pages = (32 << 20) // 4096
    assert faults_on_reuse("default") > pages // 2  # the default hands the memory back: every page faults again
    assert faults_on_reuse("keep") < pages // 20
