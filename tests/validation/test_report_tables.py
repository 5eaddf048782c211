import pytest

from dist_llm_train.errors import PreconditionError
from dist_llm_train.validation.report_tables import Table, fmt_measured, fmt_num, markdown_table


def test_markdown_table_formats_cells_and_aligns_numbers():
    text = markdown_table(["workers", "time", "note"], [[1, 100.0, "a|b"], [5, None, True]])
    assert text.splitlines() == [
        "| workers | time | note |",
        "|---:|---:|:---|",
        "| 1 | 100 | a\\|b |",
        "| 5 | n/a | yes |",
    ]


def test_markdown_table_rejects_ragged_rows():
    with pytest.raises(PreconditionError, match="row 1 has 2 cells but there are 3 headers"):
        markdown_table(["a", "b", "c"], [[1, 2, 3], [1, 2]])


def test_table_section_and_json():
    t = Table("Scaling", ["workers", "speed-up"], [[1, 1.0], [4, 3.2]], note="Virtual time to the target loss.")
    md = t.to_markdown()
    assert md.startswith("## Scaling\n\n| workers | speed-up |") and md.rstrip().endswith("target loss.")
    assert t.to_json()["rows"] == [[1, 1.0], [4, 3.2]]


def test_number_formats():
    assert fmt_num(0.0001234) == "1.234e-04"
    assert fmt_num(12.3456) == "12.35"
    assert fmt_measured(0.05127, "relative") == "+5.1%"
    assert fmt_measured(0.825, "fraction") == "82.5%"
    assert fmt_measured(20.0, "x") == "20x"
    assert fmt_measured(None, "x") == "n/a"
