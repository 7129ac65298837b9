"""Tables for the terminal that never cut a value: rich's default overflow ("ellipsis") and its squeeze of
a table wider than the console both drop characters, and a CPU list `0-55,112-167` printed as `0-55,1`
is a lie about the host. Every rich table in the reports is made here."""

from __future__ import annotations

from typing import Any, Callable, List, Optional

from rich import box
from rich.cells import cell_len
from rich.console import Group
from rich.table import Table
from rich.text import Text

from .visible import has_control, visible


def uncut_table(headings: List[str], rows: List[List[str]], cell: Callable[[str], Any] = Text,
                width: Optional[int] = None, bordered: bool = True) -> Group:
    """Plain tables that never cut a value (a bus id or a CPU list cut short misleads). When the columns
    cannot fit the console side by side, the table is split into several, each repeating the first column,
    as pandas prints a wide frame. Cells are plain text (never read as markup) unless `cell` styles them."""
    # a column's width is its longest cell, so rich never has to squeeze one (its squeeze cuts the last
    # column when the words cannot wrap further); a cell wider than the whole console still folds
    minimum = [max(cell_len(text) for text in [heading] + [row[number] for row in rows])
               for number, heading in enumerate(headings)]
    gap = 2  # between two columns
    chunks: List[List[int]] = [[0]]
    used = minimum[0]
    for number in range(1, len(headings)):
        if width is not None and len(chunks[-1]) > 1 and used + gap + minimum[number] > width:
            chunks.append([0])
            used = minimum[0]
        chunks[-1].append(number)
        used += gap + minimum[number]
    tables = []
    for columns in chunks:
        # SIMPLE_HEAD: right padding 1 and a blank divider; no box: padding 1 on each side; either way 2
        table = (Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0)) if bordered
                 else Table(box=None, show_edge=False, pad_edge=False, padding=(0, 1)))
        for number in columns:
            table.add_column(headings[number], overflow="fold", no_wrap=False)
        for row in rows:
            table.add_row(*[_shown(cell(row[number])) for number in columns])
        tables.append(table)
    return Group(*tables)


def _shown(text: Any) -> Text:
    """A cell as a rich Text of its visible characters: host text never carries a control character
    into the terminal (a styled Text keeps its style unless it holds one)."""
    if isinstance(text, Text):
        return Text(visible(text.plain), style=text.style) if has_control(text.plain) else text
    return Text(visible(str(text)))
