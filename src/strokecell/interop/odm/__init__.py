"""CDISC ODM 1.3.2: export of the neutral model (validates against the official schema) and
the reader of our own export."""

from strokecell.interop.odm._reader import read_odm
from strokecell.interop.odm._writer import odm_value, write_odm

__all__ = ["odm_value", "read_odm", "write_odm"]
