"""mista: a node for partner-nation maritime information sharing.

Kept light on purpose so that ``mista --help`` starts fast; import the parts you
need from their modules (``mista.labels``, ``mista.model``, ``mista.ais`` ...).
"""

__version__ = "0.1.0"
