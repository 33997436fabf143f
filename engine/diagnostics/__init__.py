"""Diagnostics: measurements taken on a run (gradient SNR, target variance, conditioning, flatness), one module each."""
