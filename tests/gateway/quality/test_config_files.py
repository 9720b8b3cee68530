"""Bad price lists, warranty policies, scorecard policies and rosters: file, line, reason;
the file in force stays in force."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from gateway.quality.config_files import ConfigFileError, Reloadable
from gateway.quality.pricing import default_file, load_price_list
from gateway.quality.providers import load_roster
from gateway.quality.scorecards import load_scorecard_policy
from gateway.quality.tables import BadgeRow
from gateway.quality.warranty import load_warranty_policy
from gateway.workorders.tables import TechnicianRow
from tests.gateway.quality.helpers import make_rig

GOOD_PRICES = """\
[brands.Acme]
currency = "EUR"
call_out = 30.0

[brands.Acme.parts]
"F-1" = { name = "filter", price = 12.0 }

[brands.Acme.faults.dirty_filter]
labour = [20.0, 40.0]
parts = { "F-1" = [0, 1] }
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        (GOOD_PRICES.replace("call_out = 30.0", "call_out = = 30.0"), 3, "Invalid value"),
        (GOOD_PRICES.replace("[20.0, 40.0]", "[60.0, 40.0]"), 9, "labour min 60 is above max 40"),
        (GOOD_PRICES.replace("price = 12.0", "price = -12.0"), 6, "greater than or equal to 0"),
        (GOOD_PRICES.replace('{ "F-1" = [0, 1] }', '{ "F-2" = [0, 1] }'), 10, "'F-2' is not in"),
        (GOOD_PRICES.replace('currency = "EUR"', 'currency = "EURO"'), 2, "at most 3 characters"),
        (GOOD_PRICES + "\n[brands.Acme.extra]\nx = 1\n", 12, "Extra inputs are not permitted"),
    ],
)
def test_a_bad_price_list_is_rejected_with_file_line_and_reason(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    path = write(tmp_path, "prices.toml", text)
    with pytest.raises(ConfigFileError) as caught:
        load_price_list(path)
    assert caught.value.path == str(path)
    assert caught.value.line == line, str(caught.value)
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"{path}:{line}: ")


def test_a_failed_reload_keeps_the_price_list_in_force(tmp_path: Path) -> None:
    path = write(tmp_path, "prices.toml", GOOD_PRICES)
    holder = Reloadable(path, load_price_list)
    assert holder.value.quote("Acme", "dirty_filter").high == 82.0
    path.write_text(GOOD_PRICES.replace("[20.0, 40.0]", "[20.0, oops]"))
    with pytest.raises(ConfigFileError, match=r"prices.toml:9"):
        holder.reload()
    assert holder.value.quote("Acme", "dirty_filter").high == 82.0  # still the old one
    assert holder.last_error is not None
    path.write_text(GOOD_PRICES.replace("[20.0, 40.0]", "[20.0, 50.0]"))
    assert holder.reload().quote("Acme", "dirty_filter").high == 92.0


def test_bad_warranty_and_scorecard_policies_name_the_line(tmp_path: Path) -> None:
    policy = write(
        tmp_path,
        "warranty.toml",
        "[brands.Acme]\nreturn_days = 7\nexchange_days = 15\n\n[[brands.Acme.extended]]\n"
        'name = "plan"\ncovers = "parts"\n',
    )
    with pytest.raises(ConfigFileError) as caught:
        load_warranty_policy(policy)
    assert caught.value.line == 5
    assert "exactly one of years" in caught.value.reason
    short = write(tmp_path, "w2.toml", "[brands.Acme]\nreturn_days = 20\nexchange_days = 15\n")
    with pytest.raises(ConfigFileError, match="shorter than return_days"):
        load_warranty_policy(short)
    card = write(tmp_path, "scorecard.toml", "shrinkage = 3\n\n[weights]\nrating = -1\n")
    with pytest.raises(ConfigFileError) as caught:
        load_scorecard_policy(card)
    assert caught.value.line == 4


def test_the_shipped_files_load() -> None:
    assert "Aurora" in load_price_list().brands
    assert "Aurora" in load_warranty_policy().brands
    assert load_scorecard_policy().dispatch.weight("Aurora") == 1.0
    assert len(load_roster(default_file("providers.toml")).providers) == 2


def test_a_bad_roster_changes_nothing_and_the_good_one_is_written(
    engine: Engine, tmp_path: Path
) -> None:
    rig = make_rig(engine)
    assert rig.quality.load_roster(default_file("providers.toml")) == {
        "providers": 2,
        "technicians": 3,
    }
    text = default_file("providers.toml").read_text()
    bad = write(tmp_path, "providers.toml", text.replace('"WR-0007"', '"CF-10231"'))
    with pytest.raises(ConfigFileError) as caught:
        rig.quality.load_roster(bad)
    assert "badge 'CF-10231' repeated" in caught.value.reason
    assert caught.value.line == text.splitlines().index('badge = "WR-0007"') + 1
    renamed = write(
        tmp_path, "p2.toml", text.replace('name = "Li Wei"', 'name = "Li Wei"\nrating = 9')
    )
    with pytest.raises(ConfigFileError, match="less than or equal to 5"):
        rig.quality.load_roster(renamed)
    with rig.quality.sessions() as session:
        assert session.get(TechnicianRow, "tech_li_wei").rating == 4.0  # type: ignore[union-attr]
        assert session.scalar(select(func.count()).select_from(BadgeRow)) == 3
