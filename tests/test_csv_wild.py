"""CSV files as users have them (issue 14): the delimiter and the header row detected with
csv.Sniffer, text columns, quoted names, a byte-order mark, CRLF, blank lines and missing cells,
each read right or refused with a one-line message that names the line, the column and the fix."""

import numpy as np
import pytest

from tinygrad_gd import data
from tinygrad_gd.data import DataError


def _file(tmp_path, text, name="wild.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


# (file contents, read_csv arguments, features, X, y, what CSVTable.notes() must mention)
READ = {
    "semicolons": ("size;age;price\n126.8;27.3;362651\n100;10;300000\n", {"target": "price"},
                   ["size", "age"], [[126.8, 27.3], [100, 10]], [362651, 300000], "semicolons"),
    "tabs": ("x\ty\n1\t2\n3\t4\n", {"target": "y"}, ["x"], [[1], [3]], [2, 4], "tabs"),
    "bars_given": ("x|y\n1|2\n3|4\n", {"target": "y", "delimiter": "|"}, ["x"], [[1], [3]], [2, 4], "bars"),
    "no_header": ("126.8,27.3,362651\n100,10,300000\n90,5,250000\n", {"target": "x2"}, ["x0", "x1"],
                  [[126.8, 27.3], [100, 10], [90, 5]], [362651, 300000, 250000], "no header row detected"),
    "no_header_by_index": ("1,2,3\n4,5,6\n", {"target": 0, "header": False}, ["x1", "x2"], [[2, 3], [5, 6]],
                           [1, 4], "target x0"),
    "no_header_text_column": ("1,Paris,3\n2,Rome,4\n", {"target": "2", "features": ["0"]}, ["x0"], [[1], [2]],
                              [3, 4], "no header row"),
    "quoted_header": ('"x","y"\n1,2\n3,4\n', {"target": "y"}, ["x"], [[1], [3]], [2, 4], None),
    "quoted_with_spaces": ("'size', 'price'\n1, 2\n3, 4\n", {"target": "price"}, ["size"], [[1], [3]], [2, 4], None),
    "bom_crlf_blank_lines": ("\ufeffx,y\r\n1,2\r\n\r\n  \r\n3,4\r\n", {"target": "y"}, ["x"], [[1], [3]], [2, 4], None),
    "drop_missing": ("x,y\n1,2\n,4\n5,NA\n6,?\n7,8\n", {"target": "y", "drop_missing": True}, ["x"], [[1], [7]],
                     [2, 8], "dropped 3 row(s) with missing cells (line 3, 4, 5)"),
    "class_names": ("a,kind\n1,cat\n2,dog\n3,cat\n", {"target": "kind", "class_names": True}, ["a"],
                    [[1], [2], [3]], [0, 1, 0], "cat = 0, dog = 1"),
    "numeric_classes_stay": ("a,kind\n1,3\n2,5\n", {"target": "kind", "class_names": True}, ["a"], [[1], [2]],
                             [3, 5], None),
}


@pytest.mark.parametrize("case", sorted(READ))
def test_read_csv_understands_the_file(tmp_path, case):
    text, kwargs, features, X, y, note = READ[case]
    table = data.read_csv(_file(tmp_path, text), **kwargs)
    assert table.features == features
    np.testing.assert_array_equal(table.X, X)
    np.testing.assert_array_equal(table.y, y)
    assert table.X.dtype == table.y.dtype == np.float64
    notes = " | ".join(table.notes())
    assert (note in notes) if note else notes == "", notes


# (file contents, read_csv arguments, pieces of the one-line message, in order)
REFUSED = {
    "text_feature": ("size,city,age,price\n1,Paris,3,4\n", {"target": "price"},
                     ["line 2, column 'city': 'Paris' is not a number", "exclude it with --features size,age"]),
    "text_only_feature": ("city,price\nParis,4\n", {"target": "price"}, ["'Paris' is not a number",
                                                                         "the only feature"]),
    "text_target": ("a,kind\n1,cat\n", {"target": "kind"}, ["column 'kind': 'cat' is not a number",
                                                            "--model logistic"]),
    "missing_cell": ("x,y\n1,2\n3,\n", {"target": "y"}, ["line 3, column 'y': an empty cell is a missing value",
                                                         "--drop-missing"]),
    "missing_token": ("x,y\n1,2\nNA,3\n", {"target": "y"}, ["line 3, column 'x': 'NA' is a missing value"]),
    "all_rows_missing": ("x,y\n,2\n", {"target": "y", "drop_missing": True},
                         ["no data rows left after dropping 1 row(s) with missing cells"]),
    "name_without_header": ("1,2\n3,4\n", {"target": "price"},
                            ["no column(s) ['price']", "no header row", "x0..x1 or 0..1"]),
    "position_out_of_range": ("1,2\n3,4\n", {"target": 5}, ["no column(s) [5]"]),
    "wrong_delimiter_given": ("size;age;price\n1;2;3\n", {"target": "price", "delimiter": ","},
                              ["available columns: ['size;age;price']", "pass --delimiter ';'"]),
    "bad_delimiter": ("x,y\n1,2\n", {"target": "y", "delimiter": ",,"}, ["the delimiter must be one character"]),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_read_csv_refuses_with_a_message_that_names_the_fix(tmp_path, case):
    text, kwargs, pieces = REFUSED[case]
    with pytest.raises(DataError) as info:
        data.read_csv(_file(tmp_path, text), **kwargs)
    message, position = str(info.value), 0
    assert "\n" not in message
    for piece in pieces:
        found = message.find(piece, position)
        assert found >= 0, (piece, message)
        position = found + len(piece)


def test_header_detection_by_the_columns_below_it(tmp_path):
    """A first row of text above numbers is a header; numbers above numbers are data."""
    assert data.read_csv(_file(tmp_path, "a,b\n1,2\n"), "b").header is True
    assert data.read_csv(_file(tmp_path, "1,2\n3,4\n"), "x1").header is False
    # a headerless file whose text column gives no clue: the numbers in the first row do
    assert data.read_csv(_file(tmp_path, "1,Paris,3\n2,Rome,4\n"), "x2", features=["x0"]).header is False


def test_load_csv_keeps_its_tuple_and_takes_the_new_options(tmp_path):
    X, y, names = data.load_csv(_file(tmp_path, "1;2\n3;4\n;6\n"), 1, header=False, drop_missing=True)
    assert names == ["x0"] and X.tolist() == [[1.0], [3.0]] and y.tolist() == [2.0, 4.0]


def test_write_csv_round_trips_a_built_in_dataset(tmp_path):
    X, y = data.make_houses(n=30, seed=1)
    path = tmp_path / "houses.csv"
    data.write_csv(path, X, y, ["size", "age"], "price")
    table = data.read_csv(path, "price")
    assert table.header and table.features == ["size", "age"] and table.delimiter == ","
    np.testing.assert_array_equal(table.X, X)
    np.testing.assert_array_equal(table.y, y.ravel())
    with pytest.raises(DataError, match=r"X must be \(n, 1\)"):
        data.write_csv(path, X, y, ["size"], "price")


def test_houses_are_badly_scaled_on_purpose():
    X, y = data.load_builtin("houses")
    assert X.shape == (200, 2) and y.shape == (200, 1)
    coef = np.linalg.lstsq(np.c_[X, np.ones(200)], y.ravel(), rcond=None)[0]
    np.testing.assert_allclose(coef[:2], [3000, -1700], rtol=0.1)  # the prices the data was drawn from
    assert y.std() > 1e5 and X[:, 0].std() > 3 * X[:, 1].std()
    assert data.BUILTIN_DATASETS["houses"].columns == ("size", "age", "price")
