"""strokecell: an open platform for stem-cell therapy trials in stroke.

The package is layered (see DESIGN.md); each sub-package's ``__init__`` names its public API.
Importing ``strokecell`` itself is cheap: it loads no numerical or database library.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
