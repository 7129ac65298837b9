"""`nvidia-smi topo -m` and `nvidia-smi topo -p2p r|w|n|a|p` matrices into facts.

Pasted matrices come in many shapes: tab- or space-separated, with or without the CPU Affinity, NUMA
Affinity and GPU NUMA ID columns, with NIC rows (`NIC0` with a NIC legend, or `mlx5_0` on old drivers),
underlined by terminal escapes, re-indented or re-wrapped by a markdown renderer, and with empty cells
where nvidia-smi prints two tabs. So a matrix is read as a stream of words, not as lines: the header
names the devices, and every later word that is a device name starts that device's row. Cells never look
like device names, so glued and wrapped rows fall apart in the right places.

Issue pastes add their own damage, read here as well: the header row left out of the copy (the device
columns are then counted from the rows, the affinity columns told apart by their shape); cells run together
where a terminal dropped the tab (`NV18NV18`, `0-55,112-167N/A`), split again so later columns do not shift;
rows cut short (read as far as they go; the other half of the symmetric matrix fills a pair in); and empty
affinity cells (VMs), kept as empty: where a row sits on its own line under a header on its own line, the
affinity cells are placed by their position under the header's titles (tab stops of 8), so an empty cell
is seen as empty instead of the next column's value sliding into it.

A topo -m cell names the best path between two GPUs: `NV#` (# bonded NVLinks) or the PCIe path (`PIX`,
`PXB`, `PHB`, `NODE`, `SYS`; drivers before 384 printed `SOC` for what is now `SYS`). A p2p cell is a
status: `OK`, `CNS`, `GNS`, `TNS`, `NS`, `DR`, `U`. Which P2P capability a p2p matrix describes is not
printed in it; it is known only when the command line (`nvidia-smi topo -p2p r`) is part of the paste.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple

from ...common.cpulist import parse_cpulist
from ...model import Reason, Unavailable
from .common import Observation, Parser, clean, command_line, unquote

TOPO_SECTION = "nvidia-smi topo -m"
P2P_SECTION = "nvidia-smi topo -p2p"
_DEVICE = re.compile(r"^(?:GPU\d+|NIC\d+|mlx\d+_\d+|[a-z]+\d*_\d+|ib\d+|eth\d+|CPU\d+|NVSwitch\d+)$")
_NVLINK = re.compile(r"^NV(\d+)$")
PCIE_WORDS = {"PIX", "PXB", "PHB", "NODE", "SYS", "SOC"}
P2P_WORDS = {"OK": "ok", "CNS": "chipset_not_supported", "GNS": "gpu_not_supported",
             "TNS": "topology_not_supported", "NS": "not_supported", "DR": "disabled_by_regkey", "U": "unknown"}
P2P_MODES = {"r": "p2p_read", "w": "p2p_write", "n": "p2p_nvlink", "a": "p2p_atomics", "p": "p2p_pcie"}
_P2P_COMMAND = re.compile(r"topo\s+-p2p\s+([rwnap])\b")
_AFFINITY_COLUMNS = (("CPU Affinity", "cpu_affinity"), ("NUMA Affinity", "numa_affinity"),
                     ("GPU NUMA ID", "gpu_numa_id"))
_NIC_LEGEND = re.compile(r"^\s*(NIC\d+):\s*(\S+)\s*$")
_CELL = r"X|NV\d+|PIX|PXB|PHB|NODE|SYS|SOC|N/A|OK|CNS|GNS|TNS|NS|DR|\d[\d,-]*"
_CELL_PART = re.compile(_CELL)
_LINK_WORD = re.compile(r"^(?:X|NV\d+|PIX|PXB|PHB|NODE|SYS|SOC)$")
_CPU_LIST = re.compile(r"^\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*$")
MAX_MATRIX_WORDS = 200_000  # a 64-GPU matrix with NICs stays far below; a runaway paste stops here
MAX_LINKS_PER_GPU = 18  # the most NVLinks any GPU has (H100, H200, B200): more per peer means NVSwitch


@dataclass
class Matrix:
    kind: str  # "topo" or "p2p"
    devices: List[str]  # column names, GPU0.. then NICs
    affinity_columns: List[str]  # "cpu_affinity", "numa_affinity", "gpu_numa_id" as the header has them
    cells: Dict[str, List[str]]  # row name -> cells in column order
    affinity: Dict[str, Dict[str, str]]  # GPU row name -> column -> text as printed
    p2p_mode: str = ""  # "r", "w", ... when the command line was pasted with the matrix
    problems: List[str] = field(default_factory=list)
    header_copied: bool = True  # False: the paste starts at the GPU0 row; columns were counted from the rows
    cut_rows: List[str] = field(default_factory=list)  # rows that stop before their last device cell

    def gpu_indices(self) -> List[int]:
        return [int(name[3:]) for name in self.devices if name.startswith("GPU") and name[3:].isdigit()]

    def cell(self, row: str, column: str) -> Optional[str]:
        cells = self.cells.get(row)
        if cells is None or column not in self.devices:
            return None
        position = self.devices.index(column)
        return cells[position] if position < len(cells) else None

    def pair_cell(self, a: str, b: str) -> Optional[str]:
        """The cell of a pair; from the other half of the matrix when row `a` was cut before it (topo -m
        is symmetric)."""
        word = self.cell(a, b)
        return word if word is not None else self.cell(b, a)


@dataclass
class Topology:
    matrices: List[Matrix] = field(default_factory=list)
    nic_names: Dict[str, str] = field(default_factory=dict)  # NIC0 -> mlx5_0
    format_name: str = "nvidia-smi topo"

    @property
    def found(self) -> bool:
        return bool(self.matrices)

    @property
    def problems(self) -> List[str]:
        return [problem for matrix in self.matrices for problem in matrix.problems]

    def topo(self) -> Optional[Matrix]:
        return next((m for m in self.matrices if m.kind == "topo"), None)

    def p2p(self) -> List[Matrix]:
        return [m for m in self.matrices if m.kind == "p2p"]

    def links(self) -> Dict[str, str]:
        """"0-1" -> the topo -m word for each GPU pair, lower index first."""
        matrix = self.topo()
        found: Dict[str, str] = {}
        if matrix is None:
            return found
        indices = matrix.gpu_indices()
        for position, a in enumerate(indices):
            for b in indices[position + 1:]:
                word = matrix.pair_cell(f"GPU{a}", f"GPU{b}")
                if word is not None:
                    found[f"{a}-{b}"] = word
        return found

    def observations(self) -> Iterable[Observation]:
        matrix = self.topo()
        if matrix is not None:
            yield from _topo_observations(matrix)
        for p2p in self.p2p():
            yield from _p2p_observations(p2p)


def _topo_observations(matrix: Matrix) -> Iterable[Observation]:
    indices = matrix.gpu_indices()
    yield ("driver", "device_count"), len(indices), TOPO_SECTION
    for index in indices:
        yield ("gpu", index, "present"), True, TOPO_SECTION
        columns = matrix.affinity.get(f"GPU{index}", {})
        cpus = columns.get("cpu_affinity", "")
        if cpus and cpus != "N/A":
            try:
                parse_cpulist(cpus)
            except ValueError:
                pass
            else:
                yield ("gpu", index, "cpu_affinity"), cpus, TOPO_SECTION
        node = columns.get("numa_affinity")
        if node == "":
            # printed empty (VMs without NUMA information): nothing names a node or CPUs
            detail = "nvidia-smi topo -m printed an empty affinity cell for this GPU"
            yield ("gpu", index, "numa_node"), Unavailable(Reason.NOT_SUPPORTED, TOPO_SECTION, detail), TOPO_SECTION
        if cpus == "":
            detail = "nvidia-smi topo -m printed an empty CPU Affinity cell for this GPU"
            yield ("gpu", index, "cpu_affinity"), Unavailable(Reason.NOT_SUPPORTED, TOPO_SECTION, detail), TOPO_SECTION
        if node == "N/A":
            yield ("gpu", index, "numa_node"), -1, TOPO_SECTION  # nvidia-smi's N/A: the firmware names none
        elif node is not None and node.isdigit():
            yield ("gpu", index, "numa_node"), int(node), TOPO_SECTION
    words = {}
    for position, a in enumerate(indices):
        for b in indices[position + 1:]:
            word = matrix.pair_cell(f"GPU{a}", f"GPU{b}")
            if word is not None:
                words[(min(a, b), max(a, b))] = word
    nvlink_counts = {pair: int(_NVLINK.match(w).group(1)) for pair, w in words.items() if _NVLINK.match(w)}
    route = _nvlink_route(len(indices), words, nvlink_counts)
    for (a, b), word in words.items():
        yield ("pair", a, b, "present"), True, TOPO_SECTION
        if (a, b) in nvlink_counts:
            yield ("pair", a, b, "nvlink_count"), nvlink_counts[(a, b)], TOPO_SECTION
            if route:
                yield ("pair", a, b, "nvlink_route"), route, TOPO_SECTION
        elif word in PCIE_WORDS:
            yield ("pair", a, b, "pcie_path"), "SYS" if word == "SOC" else word, TOPO_SECTION
            yield ("pair", a, b, "nvlink_count"), 0, TOPO_SECTION
            yield ("pair", a, b, "nvlink_route"), "none", TOPO_SECTION


def _nvlink_route(gpu_count: int, words: Dict[Tuple[int, int], str], counts: Dict[Tuple[int, int], int]) -> str:
    """NVSwitch only when no GPU could have that many direct links; otherwise the matrix cannot tell a
    bridge or mesh from a switch (2x H200 on NVSwitch print NV18, as a direct mesh would)."""
    if gpu_count >= 3 and len(counts) == len(words) and len(set(counts.values())) == 1:
        if next(iter(counts.values())) * (gpu_count - 1) > MAX_LINKS_PER_GPU:
            return "nvswitch"
    return ""


def _p2p_observations(matrix: Matrix) -> Iterable[Observation]:
    field_name = P2P_MODES.get(matrix.p2p_mode)
    if field_name is None:
        return  # the matrix does not say which capability it shows
    section = f"{P2P_SECTION} {matrix.p2p_mode}"
    indices = matrix.gpu_indices()
    for position, a in enumerate(indices):
        yield ("gpu", a, "present"), True, section
        for b in indices[position + 1:]:
            forward, backward = matrix.cell(f"GPU{a}", f"GPU{b}"), matrix.cell(f"GPU{b}", f"GPU{a}")
            if forward in P2P_WORDS:
                # a pair is as good as its worse direction; both are printed
                status = P2P_WORDS[forward]
                if backward in P2P_WORDS and backward != forward and forward == "OK":
                    status = P2P_WORDS[backward]
                yield ("pair", a, b, "present"), True, section
                yield ("pair", a, b, field_name), status, section


def _split_glued(words: List[str]) -> List[str]:
    """`NV18NV18` -> `NV18`, `NV18`; `0-55,112-167N/A` -> `0-55,112-167`, `N/A`: cells a terminal ran together."""
    out: List[str] = []
    for word in words:
        parts = _CELL_PART.findall(word) if len(word) > 3 else []
        # glued: the cells, taken greedily left to right, make up the whole word. (A fullmatch of
        # (cell)(cell)+ backtracks over digit runs, exponentially: 20 x "NV18" then "NV" took 3 s.)
        if len(parts) > 1 and "".join(parts) == word and not _DEVICE.match(word) and not _CPU_LIST.match(word):
            out.extend(parts)
        else:
            out.append(word)
    return out


def _positions(line: str) -> List[Tuple[int, str]]:
    """(column, word) for each word of a line with tabs expanded to nvidia-smi's stops of 8, glued cells split."""
    found: List[Tuple[int, str]] = []
    for match in re.finditer(r"\S+", line.expandtabs(8)):
        column = match.start()
        for part in _split_glued([match.group()]):
            found.append((column, part))
            column += len(part)
    return found


class TopologyParser(Parser):
    name = "nvidia-smi topo"

    def __init__(self) -> None:
        self.result = Topology()
        self._header: Optional[List[str]] = None
        self._header_line: Optional[str] = None  # the header as one line, for cell positions
        self._headless = False
        self._rows: List[str] = []
        self._row_lines: Dict[str, str] = {}  # row name -> its line, when the row starts a line
        self._p2p_mode = ""
        self._in_nic_legend = False

    def feed(self, raw: str) -> None:
        line = unquote(clean(raw))
        if "-p2p" in line:
            match = _P2P_COMMAND.search(line)
            if match:
                self._p2p_mode = match.group(1)
        words = _split_glued(line.split())
        if words and "GPU0" not in words and command_line(line) is not None:
            if self._header is not None:  # the next command's output starts: this matrix ended
                self._close()
            return
        if self._header is None:
            if words and words[0] == "GPU0" and self._looks_like_header(words):
                # rows glued onto the header line start at the second GPU0
                cut = words.index("GPU0", 1) if "GPU0" in words[1:] else len(words)
                self._header, self._rows = words[:cut], words[cut:]
                self._header_line = line if cut == len(words) else None
                return
            if words and re.match(r"^GPU\d+$", words[0]) and self._looks_like_headless_row(words):
                self._header, self._headless, self._header_line = [], True, None
                self._row_lines[words[0]] = line
                self._rows = list(words)
                return
            self._read_nic_legend(line)
            return
        if not words:
            if self._rows:
                self._close()
            return
        if words[0].rstrip(":") in ("Legend", "NIC") or len(self._header) + len(self._rows) > MAX_MATRIX_WORDS:
            self._close()
            self._read_nic_legend(line)
            return
        if not self._headless and not self._rows and "GPU0" not in words:
            self._header.extend(words)  # a header wrapped over lines
            self._header_line = None
            return
        if not self._headless and not self._rows:
            cut = words.index("GPU0")
            self._header.extend(words[:cut])
            if cut:
                self._header_line = None
            words = words[cut:]
        if _DEVICE.match(words[0]):
            self._row_lines.setdefault(words[0], line)
        self._rows.extend(words)

    @staticmethod
    def _looks_like_header(words: List[str]) -> bool:
        if len(words) == 1:
            return True
        second = words[1]
        return bool(_DEVICE.match(second)) or second in ("CPU", "NUMA")

    @staticmethod
    def _looks_like_headless_row(words: List[str]) -> bool:
        """`GPU0  X  NV12 ...` with no header above it: the row of a matrix whose header was not copied."""
        cells = words[1:]
        return "X" in cells and all(_LINK_WORD.match(word) or word in P2P_WORDS for word in cells[:cells.index("X") + 1])

    def _read_nic_legend(self, line: str) -> None:
        if line.strip().startswith("NIC Legend"):
            self._in_nic_legend = True
            return
        if self._in_nic_legend:
            match = _NIC_LEGEND.match(line)
            if match:
                self.result.nic_names[match.group(1)] = match.group(2)
            elif line.strip():
                self._in_nic_legend = False

    def _headless_header(self, rows: List[str]) -> List[str]:
        """Device and affinity columns of a matrix pasted without its header, counted from the rows: each
        GPU row has one link cell per device, then its affinity cells (a CPU list, a node, the GPU NUMA ID)."""
        gpu_rows = [word for word in rows if re.match(r"^GPU\d+$", word)]
        other_rows = [word for word in rows if _DEVICE.match(word) and not word.startswith("GPU")]
        widest, affinity = 0, 0
        current, cells = None, []
        for word in rows + ["GPU0"]:
            if re.match(r"^GPU\d+$", word) or word in other_rows:
                if current is not None and current.startswith("GPU"):
                    links = 0
                    while links < len(cells) and (_LINK_WORD.match(cells[links]) or cells[links] in P2P_WORDS):
                        links += 1
                    widest, affinity = max(widest, links), max(affinity, len(cells) - links)
                current, cells = word, []
            else:
                cells.append(word)
        devices = list(dict.fromkeys(gpu_rows))
        devices += list(dict.fromkeys(other_rows)) or [f"NIC{i}" for i in range(widest - len(devices))]
        titles = ["CPU", "Affinity", "NUMA", "Affinity", "GPU", "NUMA", "ID"]
        return devices[:max(widest, len(gpu_rows))] + titles[:{0: 0, 1: 2, 2: 4}.get(affinity, 7)]

    def _aligned_affinity(self, line: str, devices: List[str], columns: List[str]) -> Optional[Dict[str, str]]:
        """The affinity cells of a row placed by position under the header's titles; None when the row and
        header are not aligned (re-indented, wrapped), so the cells are taken in order instead."""
        if self._header_line is None:
            return None
        header = self._header_line.expandtabs(8)
        starts = [header.find(title) for title, key in _AFFINITY_COLUMNS if key in columns]
        device_starts = [match.start() for match in re.finditer(r"\S+", header)][:len(devices)]
        words = _positions(line)
        if len(words) < len(devices) + 1 or any(start < 0 for start in starts):
            return None
        for (column, _), start in zip(words[1:len(devices) + 1], device_starts):
            if abs(column - start) > 2:
                return None
        placed = {key: "" for key in columns}
        for column, word in words[len(devices) + 1:]:
            slot = [key for key, start in zip(columns, starts) if start <= column + 1]
            if not slot or placed[slot[-1]]:
                return None
            placed[slot[-1]] = word
        return placed

    def _close(self) -> None:
        header, rows = self._header or [], self._rows
        headless = self._headless
        self._header, self._rows, self._headless = None, [], False
        row_lines, self._row_lines = self._row_lines, {}
        if not rows:
            return
        if headless:
            header = self._headless_header(rows)
        devices: List[str] = []
        rest = header
        for position, word in enumerate(header):
            if _DEVICE.match(word):
                devices.append(word)
            else:
                rest = header[position:]
                break
        else:
            rest = []
        text = " ".join(rest)
        affinity_columns = [key for title, key in sorted(
            ((title, key) for title, key in _AFFINITY_COLUMNS if title in text), key=lambda tk: text.index(tk[0]))]
        names = set(devices)
        cells: Dict[str, List[str]] = {}
        affinity: Dict[str, Dict[str, str]] = {}
        current: Optional[str] = None
        for word in rows:
            if word in names:  # a cell is never a device name: this word starts a row
                current = word
                cells.setdefault(current, [])
                continue
            if current is None:
                continue
            if len(cells[current]) < len(devices):
                cells[current].append(word)
            elif current.startswith("GPU"):
                affinity.setdefault(current, {})
                taken = len(affinity[current])
                if taken < len(affinity_columns):
                    affinity[current][affinity_columns[taken]] = word
        cut_rows = [row for row, row_cells in cells.items() if len(row_cells) < len(devices)]
        for row, row_cells in cells.items():
            if row.startswith("GPU") and len(row_cells) == len(devices) and affinity_columns and not headless:
                placed = self._aligned_affinity(row_lines[row], devices, affinity_columns) if row in row_lines else None
                if placed is not None:
                    affinity[row] = placed
        link_words = {w for row_cells in cells.values() for w in row_cells if w != "X"}
        is_p2p = bool(link_words) and link_words <= set(P2P_WORDS) and not affinity_columns
        if not is_p2p and not link_words and not affinity_columns and len(devices) > 1:
            return  # a header with nothing under it
        matrix = Matrix(kind="p2p" if is_p2p else "topo", devices=devices, affinity_columns=affinity_columns,
                        cells=cells, affinity=affinity, p2p_mode=self._p2p_mode if is_p2p else "",
                        header_copied=not headless, cut_rows=cut_rows)
        self.result.matrices.append(matrix)
        if is_p2p:
            self._p2p_mode = ""

    def finish(self) -> Topology:
        if self._header is not None:
            self._close()
        return self.result
