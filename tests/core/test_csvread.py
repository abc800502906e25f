"""The strict CSV reader behind every import (apps/core/csvread.py): what
spreadsheets write is read, what would be read wrongly is refused with its line."""
import pytest

from apps.core.csvread import CsvFileError, read_csv

COLUMNS = ["id", "external_ref", "first_name", "email", "comments"]


def rows(data: bytes, **kwargs):
    table = read_csv(data, columns=COLUMNS, **kwargs)
    return [(row.line, row.values) for row in table.rows()]


def refusal(data: bytes, **kwargs) -> str:
    with pytest.raises(CsvFileError) as caught:
        rows(data, **kwargs)
    return str(caught.value)


@pytest.mark.parametrize("data", [
    b"first_name,email\r\n\xc5\x81ukasz,l@example.com\r\n",              # UTF-8, CRLF (Excel)
    b"\xef\xbb\xbffirst_name,email\r\n\xc5\x81ukasz,l@example.com\r\n",  # UTF-8 with BOM ("CSV UTF-8")
    b"first_name;email\n\xc5\x81ukasz;l@example.com\n",                  # semicolons (European Excel)
    b"first_name\temail\n\xc5\x81ukasz\tl@example.com\n",                # tabs
    b"First_Name , EMAIL\n\xc5\x81ukasz,l@example.com\n",                # header case and spaces
    b"first_name,email\n\xc5\x81ukasz,l@example.com\n\n,\n",             # blank and empty rows at the end
])
def test_it_reads_what_spreadsheets_write(data):
    assert rows(data) == [(2, {"first_name": "Łukasz", "email": "l@example.com"})]


def test_it_detects_the_delimiter_from_the_header_not_the_data():
    # Commas in the data must not make a semicolon file a comma file.
    data = b"first_name;comments\nJane;Wants a quote, soon, please\n"
    table = read_csv(data, columns=COLUMNS)
    assert table.delimiter == ";"
    assert [r.values for r in table.rows()] == [{"first_name": "Jane", "comments": "Wants a quote, soon, please"}]


def test_it_names_the_start_line_of_each_record_across_quoted_newlines():
    data = b'first_name,comments\nJane,"two\nlines"\n\nJoe,x\n'
    assert [line for line, _ in rows(data)] == [2, 5]


def test_it_fills_a_short_row_with_empty_cells():
    assert rows(b"first_name,email\nJane\n") == [(2, {"first_name": "Jane", "email": ""})]


@pytest.mark.parametrize("data, expected", [
    (b"", "the file is empty"),
    (b"first_name,email,first_name\nJ,j@x.io,J\n", "line 1, column first_name: this column appears twice"),
    (b"first_name,status\nJ,closed_won\n", "line 1, column status: LeadHub does not know this column; the accepted "
                                           "columns are: id, external_ref, first_name, email, comments"),
    (b"first_name,,email\nJ,,j@x.io\n", "line 1, column #2: a column without a name"),
    (b"first_name,email\nJane,\"unterminated\nJoe,j@x.io\n", "line 2: a quote opened on this line is never closed"),
    (b"first_name,email\nJane,j@x.io\nJo\x00e,x\n", "line 3: a NUL byte at byte 3"),
    (b"first_name,email\nJane,j@x.io\nJ\xe9r\xf4me,x\n", "line 3: byte 2 of the line (0xE9) is not UTF-8: save the "
                                                          "file as \"CSV UTF-8\""),
    (b"first_name,email\nJane,j@x.io,extra\n", "line 2: 3 cells but the header has 2 columns"),
    (b"id,first_name\n7,Jane\n8,Joe\n7,Jim\n", "line 4, column id: '7' is also on line 2"),
    (b"external_ref,first_name\nA-1,Jane\n a-2,Joe\nA-1 ,Jim\n", "line 4, column external_ref: 'A-1' is also on "
                                                                  "line 2"),
    (b"first_name,comments\nJane," + b"x" * 101 + b"\n", "line 2, column comments: the cell has 101 characters, "
                                                         "more than the 100"),
    (b"first_name\nA\nB\nC\nD\n", "line 5: the file has more than 3 rows"),
])
def test_it_refuses_what_would_be_read_wrongly_naming_the_line(data, expected):
    message = refusal(data, unique=("id", "external_ref"), max_cell_chars=100, max_rows=3)
    assert expected in message


def test_it_lists_every_header_problem_at_once():
    message = refusal(b"first_name,status,first_name\n", required=("email",))
    assert message.splitlines() == [
        "line 1, column status: LeadHub does not know this column; the accepted columns are: "
        "id, external_ref, first_name, email, comments",
        "line 1, column first_name: this column appears twice in the header",
        "line 1: missing column: email",
    ]


def test_it_refuses_a_missing_required_column():
    assert "line 1: missing columns: email, id" in refusal(b"first_name\nJane\n", required=("email", "id"))


def test_it_allows_trailing_empty_header_cells():
    assert rows(b"first_name,email,,\nJane,j@x.io,,\n") == [(2, {"first_name": "Jane", "email": "j@x.io"})]


def test_it_keeps_an_empty_unique_value_out_of_the_check():
    assert len(rows(b"id,first_name\n,Jane\n,Joe\n", unique=("id",))) == 2


def test_it_reads_a_path_and_a_binary_file(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_bytes(b"first_name\nJane\n")
    assert [r.values for r in read_csv(path, columns=COLUMNS).rows()] == [{"first_name": "Jane"}]
    with open(path, "rb") as handle:
        assert [r.values for r in read_csv(handle, columns=COLUMNS).rows()] == [{"first_name": "Jane"}]


def test_it_refuses_a_text_file_object(tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text("first_name\nJane\n")
    with open(path) as handle, pytest.raises(TypeError, match="binary"):
        read_csv(handle, columns=COLUMNS)


def test_it_streams_rows_without_reading_ahead():
    # A problem far down the file is found only when the rows get there: rows
    # before it are yielded first (callers must still refuse the whole file).
    data = b"first_name\n" + b"Jane\n" * 1000 + b"J\x00\n"
    table = read_csv(data, columns=COLUMNS)
    got = []
    with pytest.raises(CsvFileError, match="line 1002"):
        for row in table.rows():
            got.append(row.line)
    assert len(got) == 1000
