"""The engine process keeps freed memory for reuse (engine.worker.keep_freed_memory): once warm, a tuple
CNN training step takes its activations from memory already mapped instead of fresh pages from the
kernel, whose page faults cost more than the step's arithmetic on a small machine."""

import subprocess
import sys

import pytest

# The page faults of one training step (a batch of 50 4-tuples), averaged over 5 steps after 3 warm ones.
SCRIPT = """
import resource, sys, torch
if sys.argv[1] == "keep":
    from engine.worker import keep_freed_memory
    keep_freed_memory()
from engine.families.tuples import TupleConfig
from engine.families.tuples.trainer import TupleTrainer
faults = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_minflt
trainer = TupleTrainer(TupleConfig(k=4, batch=50, snr_every=0), torch.device("cpu"), 0)
for step in range(3):
    trainer.train_step(step)
before = faults()
for step in range(5):
    trainer.train_step(step)
print((faults() - before) // 5)
"""


def faults_per_step(mode: str) -> int:
    result = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return int(result.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc settings exist on Linux only")
def test_a_warm_training_step_takes_no_fresh_pages():
    # Measured: about 8,000 faults a step (32 MB of fresh pages) by default, 0-300 with the setting.
    assert faults_per_step("default") > 2000
    assert faults_per_step("keep") < 1000
