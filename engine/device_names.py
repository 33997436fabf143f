"""Which device names a run may ask for, checked without torch (the CLI refuses a bad one before
anything starts; engine/device.py resolves a good one in the engine process)."""

from __future__ import annotations

DEVICES = "auto, cpu, cuda or cuda:N"


class DeviceError(ValueError):
    """The device asked for is not there, or is no device name; the message says what is allowed."""


def check_device_name(name: str) -> str:
    """`name` if it is auto, cpu, cuda or cuda:N; DeviceError otherwise."""
    prefix, colon, index = name.partition(":")
    if name in ("auto", "cpu", "cuda") or (prefix == "cuda" and colon and index.isdigit()):
        return name
    raise DeviceError(f"--device {name}: expected {DEVICES}")
