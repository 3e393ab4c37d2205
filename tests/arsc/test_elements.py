import pytest

from arsc.elements import (
    AUTHORS_METALS,
    PRIMARY_PROPERTIES,
    check_metals,
    compare_tables,
    load_elements,
    table_metadata,
)
from arsc.errors import ArscInputError


def test_default_table_holds_all_3d_4d_5d_metals_with_sources():
    table = load_elements("default")
    d_block = table.iloc[:30]
    assert set(d_block["S"]) == {4, 5, 6}
    assert all(d_block.groupby("S").size() == 10)
    assert list(d_block["n"][d_block["S"] == 4]) == list(range(3, 13))
    sources = table_metadata()["tables"]["default"]["sources"]
    assert set(table.columns) - {"Z"} <= set(sources)


def test_default_table_also_holds_main_group_and_f_block_metals_of_published_sets():
    table = load_elements("default")
    others = table.iloc[30:]
    assert len(table) == 56
    assert {"Mg", "Ca", "Al", "Ga", "In", "Sn", "Sb", "Bi", "Gd", "Yb", "La", "Ce"} <= set(
        others.index
    )
    assert not table[list(PRIMARY_PROPERTIES)].isna().any().any()
    # La, Ce, Ho: Slater's empirical radius put on the calculated scale (x 1.286)
    assert table.loc["La", "R"] == pytest.approx(round(1.95 * 1.2857, 2))
    assert table.loc["Pr", "R"] < table.loc["La", "R"] < 2.6


def test_a_users_element_table_is_read_and_checked(tmp_path):
    good = tmp_path / "el.csv"
    good.write_text("symbol,n,S,d,IE,X,R\nla,3,6,1,5.5769,1.10,2.74\nFe,8,4,6,7.9025,1.83,1.56\n")
    table = load_elements(str(good))
    assert table.loc["La", "R"] == pytest.approx(2.74)
    assert table.loc["Fe", "mass"] == load_elements("default").loc["Fe", "mass"]
    no_col = tmp_path / "no_col.csv"
    no_col.write_text("symbol,n,S,d,IE,X\nFe,8,4,6,7.9,1.83\n")
    with pytest.raises(ArscInputError, match="lacks column 'R'"):
        load_elements(str(no_col))
    no_value = tmp_path / "no_value.csv"
    no_value.write_text("symbol,n,S,d,IE,X,R\nFe,8,4,6,,1.83,1.56\n")
    with pytest.raises(ArscInputError, match="Fe has no numeric value for 'IE'"):
        load_elements(str(no_value))
    with pytest.raises(ArscInputError, match="does not exist"):
        load_elements(str(tmp_path / "missing.csv"))


def test_authors_table_is_the_pfess_sheet_completed_from_default():
    table = load_elements("authors")
    assert tuple(table.index) == AUTHORS_METALS
    assert table.loc["Pt", "IE"] == pytest.approx(9.0)  # the sheet's rounded value
    assert table.loc["Fe", "r_cov"] == load_elements("default").loc["Fe", "r_cov"]
    assert not table[list(PRIMARY_PROPERTIES)].isna().any().any()


def test_compare_tables_lists_exactly_the_differing_values():
    diff = compare_tables("authors", "default")
    a, d = load_elements("authors"), load_elements("default")
    found = {(r.symbol, r.property) for r in diff.itertuples()}
    for sym in AUTHORS_METALS:
        for prop in PRIMARY_PROPERTIES:
            differs = abs(a.loc[sym, prop] - d.loc[sym, prop]) > 1e-3 * max(
                abs(a.loc[sym, prop]), 1
            )
            assert ((sym, prop) in found) == differs
    # Where they differ: the sheet's one-decimal Pauling values and a rounded IE.
    assert ("Mo", "X") in found and ("Pt", "IE") in found
    assert {p for _, p in found} <= {"X", "IE"}


def test_check_metals_normalises_and_rejects_unknown():
    assert check_metals(["fe", "Co", "Fe"]) == ("Fe", "Co")
    with pytest.raises(ArscInputError, match=r"unknown element 'Xx'.*allowed: Sc"):
        check_metals(["Xx"])
    with pytest.raises(ArscInputError, match="'Ag'"):
        check_metals(["Ag"], "authors")


def test_unknown_table_name():
    with pytest.raises(
        ArscInputError, match="unknown element table 'foo'; allowed: default, authors"
    ):
        load_elements("foo")


def test_a_users_element_table_messages_show_plain_values_and_name_a_folder(tmp_path):
    inf = tmp_path / "inf.csv"
    inf.write_text("symbol,n,S,d,IE,X,R\nFe,8,4,6,inf,1.83,1.56\n")
    with pytest.raises(ArscInputError, match=r"Fe has no numeric value for 'IE' \(got inf\)") as e:
        load_elements(str(inf))
    assert "np." not in str(e.value)
    with pytest.raises(ArscInputError, match="is a folder"):
        load_elements(str(tmp_path))
