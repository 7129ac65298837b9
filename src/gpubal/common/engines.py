"""Reading a model server's command line the way its argument parser does: a pure helper for collect
and rules alike."""

from __future__ import annotations

from typing import List, Optional


def option_value(argv: List[str], names: tuple) -> Optional[str]:
    """The value of the last of these options (--name VALUE or --name=VALUE); argparse keeps the last."""
    found = None
    for position, arg in enumerate(argv):
        for name in names:
            if arg == name and position + 1 < len(argv):
                found = argv[position + 1]
            elif arg.startswith(name + "="):
                found = arg[len(name) + 1:]
    return found
