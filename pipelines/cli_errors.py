"""One error line for command-line programs: library errors name the argument, scripts
name the flag.

Library functions raise ``ValueError`` / ``FileNotFoundError`` whose message names the
argument at fault as ``name=value ...`` or ``name: ...`` (``max_seq_length=3 is too
small``, ``input_files: /x does not exist``). A script passes what its calls raise through
:func:`flag_message`, which writes the flag the user typed in place of each argument
name (``--max_seq_length=3 ...``, ``--input_file: /x ...``), and prints that one line.

It lives here rather than in ``tfmodels`` because importing ``tfmodels`` loads TensorFlow,
which the data tools (``create_pretraining_data.py``, the session preparation scripts)
never import.
"""

from __future__ import annotations

import re


def flag_message(error, *flags: str, **arguments: str) -> str:
    """``str(error)`` with argument names replaced by flags.

    Args:
      error: the exception (a ``KeyError`` gives its key, not its repr).
      *flags: arguments named like their flag (``"max_seq_length"``).
      **arguments: ``argument="flag"`` where the names differ
        (``input_files="input_file"``).

    Only a name followed by ``=`` or ``:`` and not part of a longer name, path or flag
    is replaced, so ``--input_file:`` and ``/data/input_files:`` stay as they are.
    """
    message = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
    mapping = {**{flag: flag for flag in flags}, **arguments}
    for argument in sorted(mapping, key=len, reverse=True):
        message = re.sub(rf"(?<![\w\-/.]){re.escape(argument)}(?=[=:])",
                         "--" + mapping[argument], message)
    return message
