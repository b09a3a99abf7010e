"""Labels <-> keys: the shipped mappings, exact matching, refusals that list choices."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from dscrm_bridge.errors import ConfigError, InputError
from dscrm_bridge.i18n import set_language
from dscrm_bridge.workflows.labels import DEFAULT_LANGUAGE_DIR, load_labels

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def _english_messages():
    set_language("en")
    yield
    set_language("zh_CN")


def _schema_columns(reference_dir: Path, table: str) -> set[str]:
    schema = (reference_dir / "schema.sql").read_text(encoding="utf-8")
    block = re.search(rf"CREATE TABLE `{table}` \((.*?)\) ENGINE", schema, re.S)
    assert block, table
    return set(re.findall(r"^\s+`(\w+)`", block.group(1), re.M))


@pytest.mark.parametrize(
    ("module", "field", "label", "key"),
    [
        ("Opportunities", "sales_stage", "识别决策人", "Id. Decision Makers"),
        ("Opportunities", "sales_stage", "确定决策", "Id. Decision Makers"),
        ("Opportunities", "sales_stage", "Closed Won", "Closed Won"),
        ("Accounts", "industry", "ＩＴ", "Technology"),
        ("Accounts", "industry", " 非盈利机构 ", "Not For Profit"),
        ("Accounts", "account_type", "媒体", "Press"),
        ("Cases", "status", "等待反馈", "Open_Pending Input"),
        ("Documents", "category_id", "知识库", "Knowledege Base"),
        ("Accounts", "name", "随便", "随便"),
    ],
    ids=[
        "label",
        "official-synonym",
        "key-itself",
        "fullwidth-folded",
        "trimmed-synonym",
        "override",
        "case-prefix-key",
        "suitecrm-spelling-kept",
        "not-a-dropdown",
    ],
)
def test_label_becomes_its_key(module: str, field: str, label: str, key: str) -> None:
    assert load_labels().to_key(module, field, label) == key


def test_unknown_label_is_refused_with_the_accepted_labels() -> None:
    set_language("zh_CN")
    with pytest.raises(InputError) as caught:
        load_labels().to_key("Accounts", "industry", "互联网")
    message = str(caught.value)
    assert "「互联网」不是行业的有效值" in message
    assert "科技、电信" in message


def test_in_english_the_refusal_names_suitecrm_fields_and_keys() -> None:
    with pytest.raises(InputError) as caught:
        load_labels().to_key("Accounts", "industry", "互联网")
    message = str(caught.value)
    assert "is not a value of industry;" in message
    assert "Banking, Biotechnology" in message
    assert "行业" not in message and "、" not in message


def test_near_miss_is_not_guessed() -> None:
    with pytest.raises(InputError):
        load_labels().to_key("Opportunities", "sales_stage", "closed won")


def test_key_becomes_label_and_unknown_key_is_shown_as_stored() -> None:
    labels = load_labels()
    assert labels.to_label("Calls", "status", "Held") == "已通话"
    assert labels.to_label("Meetings", "status", "Held") == "已召开"
    assert labels.to_label("Accounts", "industry", "Space") == "Space"


def test_every_label_round_trips_to_its_key() -> None:
    labels = load_labels()
    for options in labels.lists.values():
        for key, label in options.labels.items():
            assert options.key_for(label) == key
            assert options.label_for(key) == label


def test_shipped_lists_are_used_by_fields_the_mapping_knows() -> None:
    labels = load_labels()
    for module, field in labels.field_lists:
        assert field in labels.fields[module], f"{module}.{field}"


@pytest.mark.parametrize(
    ("module", "table"),
    [
        ("Accounts", "accounts"),
        ("Contacts", "contacts"),
        ("Leads", "leads"),
        ("Opportunities", "opportunities"),
        ("Documents", "documents"),
        ("Meetings", "meetings"),
        ("Calls", "calls"),
        ("Tasks", "tasks"),
        ("Cases", "cases"),
    ],
    ids=lambda v: v,
)
def test_dropdown_fields_are_columns_of_suitecrm(
    reference_dir: Path, module: str, table: str
) -> None:
    columns = _schema_columns(reference_dir, table)
    labelled = [f for (m, f) in load_labels().field_lists if m == module]
    assert labelled, module
    assert set(labelled) <= columns


def test_field_label_names_its_field() -> None:
    labels = load_labels()
    assert labels.field_for("Accounts", "行业") == "industry"
    assert labels.field_for("Accounts", "industry") == "industry"
    with pytest.raises(InputError):
        labels.field_for("Accounts", "爱好")


def test_a_label_naming_two_keys_is_refused(tmp_path: Path) -> None:
    for name in ("modules.yaml", "fields.yaml"):
        (tmp_path / name).write_text(
            (DEFAULT_LANGUAGE_DIR / name).read_text(encoding="utf-8"),
            encoding="utf-8",
        )
    dropdowns = yaml.safe_load(
        (DEFAULT_LANGUAGE_DIR / "dropdowns.yaml").read_text(encoding="utf-8")
    )
    dropdowns["synonyms"]["sales_stage_dom"]["Closed Lost"] = ["赢单"]
    (tmp_path / "dropdowns.yaml").write_text(
        yaml.safe_dump(dropdowns, allow_unicode=True), encoding="utf-8"
    )
    with pytest.raises(ConfigError) as caught:
        load_labels(tmp_path)
    assert any("赢单" in problem for problem in caught.value.problems)
