"""One subpackage per failure family; see engine/registry.py for what each must define."""
