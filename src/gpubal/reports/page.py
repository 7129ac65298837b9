"""A terminal page described without rich: lines, blank lines, tables and wrapped paragraphs.

The terminal reports (doctor, topo) build a Page; it is then either drawn with rich (a colour terminal) or
written as plain text here (a file, a pipe, NO_COLOR). Plain text is most runs in CI and every report
attached to an issue, and rich's console takes about a third of a `gpubal doctor` start to import and
draw; so the plain writer does the layout itself, for the cases whose layout is certain: lines printed
whole, tables whose columns fit side by side, and paragraphs of plain words. For anything else (a table
wider than the console, a cell with a tab or a wide character) it answers None and the page is drawn
with rich instead. Either way the text is the same, byte for byte: tests/reports/test_page.py draws every
page both ways and compares.

Host text is shown through `visible` in both ways: control characters become escapes; markup and emoji
codes are never read (rich is only ever given Text objects, never markup strings)."""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple, Union

from .visible import visible

Piece = Tuple[str, str]  # (text, style): style is a rich style name, "" for none; plain text ignores it
Pieces = Union[str, Sequence[Union[str, Piece]]]

TAB_SIZE = 8  # rich's, for a tab in a line
_RULE = "\u2500"  # the line under a bordered table's headings (rich's SIMPLE_HEAD box)
# Characters outside ASCII that every terminal, and rich's cell_len, count as one column; a table cell or
# a paragraph holding any other one is laid out by rich, which knows every character's width.
_ONE_COLUMN = frozenset("·×—–…°µ±²³")


class Line:
    """One line of free text, printed whole: never cut or folded at the console's width (a terminal wraps
    it itself), so a command or a log line can be copied as it is."""

    def __init__(self, pieces: Pieces, style: str = "", base: str = "") -> None:
        self.pieces: List[Piece] = _pieces(pieces)
        self.style = style  # the style it is printed with (rich's print(style=...))
        self.base = base  # the text's own base style, under the pieces' (rich's Text(style=...))


class Table:
    """Columns of plain cells that never cut a value (reports/tables.py splits it when it is too wide)."""

    def __init__(self, headings: Sequence[str], rows: Sequence[Sequence[Union[str, Piece]]],
                 bordered: bool = True) -> None:
        self.headings = list(headings)
        self.rows = [[cell if isinstance(cell, tuple) else (cell, "") for cell in row] for row in rows]
        self.bordered = bordered  # a rule under the headings and one space between columns (else none)


class Paragraph:
    """Text wrapped between words at the console's width, under a hanging indent."""

    def __init__(self, text: str, indent: int) -> None:
        self.text = text
        self.indent = indent


Block = Union[Line, Table, Paragraph, None]  # None: a blank line


class Page:
    def __init__(self) -> None:
        self.blocks: List[Block] = []

    def line(self, pieces: Pieces, style: str = "", base: str = "") -> None:
        self.blocks.append(Line(pieces, style, base))

    def blank(self) -> None:
        self.blocks.append(None)

    def table(self, headings: Sequence[str], rows: Sequence[Sequence[Union[str, Piece]]], bordered: bool = True) -> None:
        self.blocks.append(Table(headings, rows, bordered))

    def paragraph(self, text: str, indent: int) -> None:
        self.blocks.append(Paragraph(text, indent))

    def plain(self, width: int) -> Optional[str]:
        """The page as plain text for a console `width` columns wide, exactly as rich would lay it out
        (less the spaces at each line's end); None when a block needs rich's own layout."""
        out: List[str] = []
        for block in self.blocks:
            if block is None:
                text: Optional[str] = "\n"
            elif isinstance(block, Line):
                text = _plain_line(block)
            elif isinstance(block, Table):
                text = _plain_table(block, width)
            else:
                text = _plain_paragraph(block, width)
            if text is None:
                return None
            out.append(text)
        return "".join(out)

    def draw(self, console: Any) -> None:
        """The page on a rich console (colour, or the layouts `plain` leaves to rich)."""
        from rich.padding import Padding
        from rich.text import Text

        from .tables import uncut_table

        for block in self.blocks:
            if block is None:
                console.print()
            elif isinstance(block, Line):
                console.print(_rich_text(block.pieces, block.base), style=block.style or None, soft_wrap=True, highlight=False,
                              markup=False, emoji=False)
            elif isinstance(block, Table):
                console.print(uncut_table(block.headings, block.rows, cell=_styled_cell, width=console.width,
                                          bordered=block.bordered))
            else:
                padded = Padding(Text(visible(block.text)), (0, 0, 0, block.indent), expand=False)
                console.print(padded, highlight=False)


def _pieces(pieces: Pieces) -> List[Piece]:
    if isinstance(pieces, str):
        return [(pieces, "")]
    return [piece if isinstance(piece, tuple) else (piece, "") for piece in pieces]


def _styled_cell(piece: Piece) -> Any:
    from rich.text import Text

    return Text(piece[0], style=piece[1])


def _rich_text(pieces: Sequence[Piece], base: str = "") -> Any:
    """The pieces as one rich Text, each shown through `visible` (a styled piece keeps its style)."""
    from rich.text import Text

    text = Text(style=base)
    for piece, style in pieces:
        text.append(visible(piece), style=style or None)
    return text


def _plain_line(line: Line) -> Optional[str]:
    text = visible("".join(piece for piece, _ in line.pieces))
    if "\t" in text:
        if not text.isascii():
            return None  # rich counts each character's columns to find the tab stops
        text = "\n".join(part.expandtabs(TAB_SIZE) for part in text.split("\n"))
    return "".join(part.rstrip(" \t") + "\n" for part in text.split("\n"))


def _one_column_each(text: str) -> bool:
    """Whether every character of `text` takes one column and none is a tab or a line break."""
    return all(" " <= char <= "~" or char in _ONE_COLUMN for char in text)


def _plain_table(table: Table, width: int) -> Optional[str]:
    """rich's table with every column as wide as its widest cell (SIMPLE_HEAD without edges, or no box),
    when the columns fit the console side by side; None when rich would fold or squeeze a column."""
    from .tables import column_chunks

    cells = [table.headings] + [[visible(text) for text, _ in row] for row in table.rows]
    if not all(_one_column_each(cell) for row in cells for cell in row):
        return None
    widths = [max(len(row[number]) for row in cells) for number in range(len(table.headings))]
    if not all(widths):
        return None  # rich draws an empty column one wide, under some conditions: its layout
    out: List[str] = []
    for columns in column_chunks(widths, width):
        used = sum(widths[number] for number in columns) + 2 * (len(columns) - 1)
        if used > width:
            return None  # rich squeezes the columns and folds cells: its layout, not ours
        lines = [_table_row([row[number] for number in columns], [widths[n] for n in columns]) for row in cells]
        if table.bordered:
            lines.insert(1, _RULE * used)
        out.extend(line.rstrip(" \t") + "\n" for line in lines)
    return "".join(out)


def _table_row(cells: Sequence[str], widths: Sequence[int]) -> str:
    # two columns apart: a bordered table pads each cell by one on the right and draws a one-space
    # divider; an unbordered one pads by one on each side; neither pads the outer edges
    return "  ".join(cell.ljust(column_width) for cell, column_width in zip(cells, widths))


def _plain_paragraph(paragraph: Paragraph, width: int) -> Optional[str]:
    """rich's word wrap (rich._wrap.divide_line) of words that each fit a line, under the indent."""
    text = visible(paragraph.text)
    if not text:
        return ""  # rich draws no line for no text
    room = width - paragraph.indent
    if room < 1 or not _one_column_each(text):
        return None
    lines: List[str] = []
    current = ""
    for word in _words(text):
        if len(word.rstrip()) > room:
            return None  # rich folds a word longer than a line
        if current and len(current) + len(word.rstrip()) > room:
            lines.append(current)
            current = ""
        current += word
    lines.append(current)
    margin = " " * paragraph.indent
    return "".join((margin + line).rstrip(" \t") + "\n" for line in lines)


def _words(text: str) -> List[str]:
    """Each word with the spaces after it; the first also with any before it (rich's `\\s*\\S+\\s*`)."""
    words: List[str] = []
    position = 0
    while position < len(text):
        end = position
        while end < len(text) and text[end] == " ":
            end += 1
        if end == len(text):
            if words:
                words[-1] += text[position:]
            else:
                words.append(text[position:])
            break
        while end < len(text) and text[end] != " ":
            end += 1
        while end < len(text) and text[end] == " ":
            end += 1
        words.append(text[position:end])
        position = end
    return words

