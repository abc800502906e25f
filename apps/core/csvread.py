"""Reading a CSV file as people really make it: the one strict reader behind every
import (the lead import and the outcome import, in the admin, the commands and
the background jobs).

It accepts what spreadsheets write — UTF-8 with or without a byte-order mark,
comma-, semicolon- (Excel in many European locales) or tab-separated files, the
delimiter read off the header line, CRLF or LF line ends, quoted cells over
several lines — and refuses, naming the line, what would otherwise be read
wrongly without a word:

- a file that is not UTF-8 ("save it as CSV UTF-8", with the line and the byte);
- a NUL byte (a binary file, or a spreadsheet saved in UTF-16);
- a duplicated header, a column LeadHub does not know (listing the accepted
  ones: an unknown column silently dropped would turn ``status=closed_won`` into
  nothing), a required column that is missing;
- an unterminated quote (the rest of the file would become one cell);
- a row with more cells than the header has columns;
- an oversized cell (row and column named);
- more rows than the caller allows;
- two rows with the same value in a column that must be unique in one file
  (``id``, ``external_ref``): both lines are named.

Header problems are raised by ``read_csv`` itself; row problems while iterating
``CsvTable.rows()``, which streams (a 100,000-row file is never held as rows).
Every problem is a ``CsvProblem(line, column, message)``; ``CsvFileError`` carries
one or more of them, and its text is one line per problem. Callers refuse the
whole file on a ``CsvFileError`` (nothing written), and check the cells' values
themselves.
"""
from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

BOM = b"\xef\xbb\xbf"
DELIMITERS = (",", ";", "\t")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
DEFAULT_MAX_CELL_CHARS = 10_000


@dataclass(frozen=True)
class CsvProblem:
    """One thing wrong with a file: where (a line of the file, a column) and what."""

    line: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.column:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


class CsvFileError(ValueError):
    """The file cannot be read as the caller's CSV; nothing of it may be applied."""

    def __init__(self, problems: Sequence[CsvProblem] | CsvProblem):
        self.problems = [problems] if isinstance(problems, CsvProblem) else list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


@dataclass(frozen=True)
class CsvRow:
    line: int  # the physical line (1-based) where the record starts
    values: dict[str, str]


@dataclass
class CsvTable:
    """A file whose header was accepted. ``rows()`` reads the records (once)."""

    columns: list[str]
    delimiter: str
    _lines: Iterator[tuple[int, str]] = field(repr=False)
    _unique: Sequence[str] = field(default=(), repr=False)
    _max_rows: int | None = field(default=None, repr=False)
    _max_cell_chars: int = field(default=DEFAULT_MAX_CELL_CHARS, repr=False)
    _first_line: int = field(default=2, repr=False)
    _consumed: bool = field(default=False, repr=False)

    def rows(self) -> Iterator[CsvRow]:
        """The records in file order, blank lines skipped. Raises CsvFileError at
        the first structural problem (see the module's docstring)."""
        if self._consumed:
            raise RuntimeError("CsvTable.rows() reads the file once")
        self._consumed = True
        tracker = _LineTracker(self._lines, first_line=self._first_line)
        reader = csv.reader(tracker, delimiter=self.delimiter, strict=True)
        width = len(self.columns)
        seen: dict[str, dict[str, int]] = {name: {} for name in self._unique if name in self.columns}
        count = 0
        while True:
            start = tracker.next_line
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise CsvFileError(_csv_error(exc, start, tracker)) from None
            tracker.next_line = tracker.last_line + 1
            if not any(cell.strip() for cell in cells):
                continue  # a blank line, or a row of empty cells (spreadsheets leave some at the end)
            count += 1
            if self._max_rows is not None and count > self._max_rows:
                raise CsvFileError(CsvProblem(start, None, f"the file has more than {self._max_rows:,} rows, the "
                                                           "most one import takes: split it into smaller files"))
            if len(cells) > width:
                extra = [cell for cell in cells[width:] if cell.strip()]
                if extra:
                    raise CsvFileError(CsvProblem(start, None, f"{len(cells)} cells but the header has {width} "
                                                               "columns: check the separators and quotes of this row"))
                cells = cells[:width]
            for name, cell in zip(self.columns, cells):
                if len(cell) > self._max_cell_chars:
                    raise CsvFileError(CsvProblem(start, name, f"the cell has {len(cell):,} characters, more than "
                                                               f"the {self._max_cell_chars:,} a cell may hold"))
            values = dict(zip(self.columns, cells))
            for name in self.columns[len(cells):]:
                values[name] = ""  # a short row: the missing cells are empty, as a spreadsheet shows them
            for name, lines in seen.items():
                key = values[name].strip()
                if not key:
                    continue
                if key in lines:
                    raise CsvFileError(CsvProblem(start, name, f"{key!r} is also on line {lines[key]}: a file may "
                                                               f"name each {name} once"))
                lines[key] = start
            yield CsvRow(start, values)


def read_csv(source, *, columns: Sequence[str], required: Sequence[str] = (), unique: Sequence[str] = (),
             max_rows: int | None = None, max_cell_chars: int = DEFAULT_MAX_CELL_CHARS) -> CsvTable:
    """Open `source` (bytes, a path, or a binary file object) as a CSV whose header
    may name only `columns` (each at most once) and must name every one of
    `required`. Column names are compared stripped and lower-cased.

    Returns a CsvTable; raises CsvFileError for a file that is empty, not UTF-8
    in its header, or whose header is refused (every header problem at once)."""
    lines = _decoded_lines(_binary_lines(source))
    accepted = [name.lower() for name in columns]
    try:
        header_line, header_text = next(lines)
    except StopIteration:
        raise CsvFileError(CsvProblem(None, None, "the file is empty: the first line must name the columns")) from None
    delimiter = _detect_delimiter(header_text)
    try:
        header = next(csv.reader([header_text], delimiter=delimiter, strict=True))
    except (csv.Error, StopIteration):
        raise CsvFileError(CsvProblem(header_line, None, "the header line cannot be read: check its quotes")) from None
    names = [name.strip().lower() for name in header]
    while names and not names[-1]:
        names.pop()  # trailing empty header cells (a spreadsheet's stray separators)
    problems = []
    for index, name in enumerate(names):
        if not name:
            problems.append(CsvProblem(header_line, f"#{index + 1}", "a column without a name"))
        elif name in names[:index]:
            problems.append(CsvProblem(header_line, name, "this column appears twice in the header"))
        elif name not in accepted:
            problems.append(CsvProblem(header_line, name, "LeadHub does not know this column; the accepted columns "
                                                          f"are: {', '.join(accepted)}"))
    missing = [name for name in required if name.lower() not in names]
    if missing:
        problems.append(CsvProblem(header_line, None, f"missing column{'s' if len(missing) > 1 else ''}: "
                                                      f"{', '.join(missing)}"))
    if problems:
        raise CsvFileError(problems)
    return CsvTable(columns=names, delimiter=delimiter, _lines=lines, _unique=[u.lower() for u in unique],
                    _max_rows=max_rows, _max_cell_chars=max_cell_chars, _first_line=header_line + 1)


def _detect_delimiter(header: str) -> str:
    """The separator the header uses: the one of comma, semicolon and tab that
    occurs most outside quotes (a header is column names: no separator inside
    a name is expected, but a quoted one is allowed). Comma when none occurs (a
    one-column file)."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in header:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _binary_lines(source) -> Iterable[bytes]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source))
    if isinstance(source, (str, os.PathLike)):
        return _file_lines(source)
    if hasattr(source, "read"):
        if hasattr(source, "seek"):
            try:
                source.seek(0)
            except (OSError, ValueError):
                pass
        return source
    raise TypeError(f"read_csv takes bytes, a path or a binary file, not {type(source).__name__}")


def _file_lines(path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        yield from handle


def _decoded_lines(raw: Iterable[bytes]) -> Iterator[tuple[int, str]]:
    """(line number, text) per physical line: the BOM removed, UTF-8 checked line
    by line so the error can name the line and the byte, NUL refused."""
    for number, chunk in enumerate(raw, start=1):
        if isinstance(chunk, str):
            raise TypeError("read_csv takes a binary file (open it with 'rb'), not a text one")
        if number == 1 and chunk.startswith(BOM):
            chunk = chunk[len(BOM):]
        nul = chunk.find(b"\x00")
        if nul >= 0:
            raise CsvFileError(CsvProblem(number, None, f"a NUL byte at byte {nul + 1} of the line: "
                                                        "this is not a text CSV file (save it as CSV UTF-8)"))
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CsvFileError(CsvProblem(number, None, f"byte {exc.start + 1} of the line (0x{chunk[exc.start]:02X}) "
                                                        "is not UTF-8: save the file as \"CSV UTF-8\" and upload it "
                                                        "again")) from None
        yield number, text


class _LineTracker:
    """Feeds csv.reader one physical line at a time and knows where the next
    record starts (csv.reader's line_num counts lines read, not record starts)."""

    def __init__(self, lines: Iterator[tuple[int, str]], *, first_line: int):
        self._lines = lines
        self.next_line = first_line
        self.last_line = first_line - 1

    def __iter__(self):
        return self

    def __next__(self) -> str:
        number, text = next(self._lines)
        self.last_line = number
        return text


def _csv_error(exc: csv.Error, start: int, tracker: _LineTracker) -> CsvProblem:
    text = str(exc)
    if "unexpected end of data" in text or "EOF" in text:
        return CsvProblem(start, None, "a quote opened on this line is never closed: the rest of the file would "
                                       "become one cell (check the quotes of this row)")
    return CsvProblem(tracker.last_line or start, None, f"this line cannot be read as CSV ({text}): check its quotes "
                                                        "and separators")
