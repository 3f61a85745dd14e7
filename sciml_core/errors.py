"""Exception hierarchy.

Every error a user can cause by a mistake (an unknown name, a bad value, an unreadable file)
is a :class:`SciMLError`.  The command line turns these into one line on stderr and exit
status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class SciMLError(Exception):
    """Base class of all errors caused by user input or by a run that cannot go on."""


class ConfigError(SciMLError, ValueError):
    """A config, preset, option or ``--set`` override is invalid."""


class UnknownNameError(ConfigError, KeyError):
    """A solver, PDE, preset or dataset name is not registered.

    The message lists the closest registered names.
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DataError(SciMLError):
    """A data file is missing, malformed, truncated or does not match the schema."""


class OutputError(SciMLError):
    """The output path cannot be written, or would overwrite something without ``--force``."""


class CheckpointError(SciMLError):
    """A checkpoint is missing (``--resume`` with nothing to resume) or unreadable."""


class DivergenceError(SciMLError, FloatingPointError):
    """Training produced a non-finite loss; the last good checkpoint is kept on disk."""


class NotImplementedForError(SciMLError, NotImplementedError):
    """A solver or generator does not support the requested PDE / option (yet)."""


class ConvergenceError(SciMLError, ArithmeticError):
    """An iterative solve (linear, least-squares, fixed point) did not reach its tolerance."""
