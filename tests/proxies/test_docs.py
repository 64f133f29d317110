"""docs/proxies.md shows the table the configs are generated from, as it is."""

from pathlib import Path

from lbbench.proxies.vocabulary import markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "proxies.md"


def test_the_documented_table_is_the_one_the_configs_come_from():
    assert markdown() in DOC.read_text(), (
        "docs/proxies.md is out of date: paste lbbench.proxies.vocabulary.markdown() "
        "between its generated markers"
    )
