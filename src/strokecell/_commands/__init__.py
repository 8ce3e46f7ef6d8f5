"""Command families of the ``strokecell`` CLI, one module each, registered by ``cli.py``.

A module here holds argument parsing and output formatting only; the work is done by the
layer it calls. Heavy libraries are imported inside the command functions.
"""
