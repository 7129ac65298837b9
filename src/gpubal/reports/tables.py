"""Tables for the terminal that never cut a value: rich's default overflow ("ellipsis") and its squeeze of
a table wider than the console both drop characters, and a CPU list `0-55,112-167` printed as `0-55,1`
is a lie about the host. Every rich table in the reports is made here; reports/page.py lays out the same
tables as plain text, with `column_chunks`."""

from __future__ import annotations

from typing import Any, Callable, List, Optional

from .visible import has_control, visible

GAP = 2  # columns between two columns: a bordered table pads by one and divides by a space; else 1 + 1


def column_chunks(widths: List[int], width: Optional[int]) -> List[List[int]]:
    """The columns (by number) of each table that a table `widths` wide is split into to fit `width`
    columns: each repeats the first column, as pandas prints a wide frame; a column wider than the whole
    console still gets a table of its own (with the first column), where rich folds its cells."""
    chunks: List[List[int]] = [[0]]
    used = widths[0]
    for number in range(1, len(widths)):
        if width is not None and len(chunks[-1]) > 1 and used + GAP + widths[number] > width:
            chunks.append([0])
            used = widths[0]
        chunks[-1].append(number)
        used += GAP + widths[number]
    return chunks


def uncut_table(headings: List[str], rows: List[List[Any]], cell: Optional[Callable[[Any], Any]] = None,
                width: Optional[int] = None, bordered: bool = True) -> Any:
    """Plain tables that never cut a value (a bus id or a CPU list cut short misleads). When the columns
    cannot fit the console side by side, the table is split into several (`column_chunks`). Cells are
    plain text (never read as markup) unless `cell` styles them."""
    from rich import box
    from rich.cells import cell_len
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    make = cell or Text
    # a column's width is its longest cell as shown, so rich never has to squeeze one (its squeeze cuts the
    # last column when the words cannot wrap further); a cell wider than the whole console still folds
    widths = [max(cell_len(visible(_plain(text))) for text in [heading] + [row[number] for row in rows])
              for number, heading in enumerate(headings)]
    tables = []
    for columns in column_chunks(widths, width):
        # SIMPLE_HEAD: right padding 1 and a blank divider; no box: padding 1 on each side; either way 2
        table = (Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 1, 0, 0)) if bordered
                 else Table(box=None, show_edge=False, pad_edge=False, padding=(0, 1)))
        for number in columns:
            table.add_column(headings[number], overflow="fold", no_wrap=False)
        for row in rows:
            table.add_row(*[_shown(make(row[number])) for number in columns])
        tables.append(table)
    return Group(*tables)


def _plain(cell: Any) -> str:
    """A cell's text: a string, a (text, style) piece or a rich Text."""
    if isinstance(cell, tuple):
        return cell[0]
    return cell.plain if hasattr(cell, "plain") else str(cell)


def _shown(text: Any) -> Any:
    """A cell as a rich Text of its visible characters: host text never carries a control character
    into the terminal (a styled Text keeps its style unless it holds one)."""
    from rich.text import Text

    if isinstance(text, Text):
        return Text(visible(text.plain), style=text.style) if has_control(text.plain) else text
    return Text(visible(str(text)))
