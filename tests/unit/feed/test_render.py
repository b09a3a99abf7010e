"""Feed sentences in zh_CN and en."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from dscrm_bridge.feed import FeedAction, FeedChange, FieldChange, render
from dscrm_bridge.feed.render import module_label, render_text

WHEN = datetime(2026, 12, 4, 15, 26, 30)


def _change(action: FeedAction, **extra: object) -> FeedChange:
    values = {
        "change_key": "k",
        "module": "Accounts",
        "record_id": "a1",
        "record_name": "北京大盛科技有限公司",
        "action": action,
        "actor_id": "u1",
        "actor_name": "张三",
        "occurred_at": WHEN,
    }
    values.update(extra)
    return FeedChange(**values)  # type: ignore[arg-type]


LINK = {
    "module": "Contacts",
    "record_name": "王五",
    "related_module": "Accounts",
    "related_id": "a1",
    "related_name": "北京大盛科技有限公司",
}


@pytest.mark.parametrize(
    ("change", "zh", "en"),
    [
        (
            _change(FeedAction.CREATE),
            "张三 新建了客户「北京大盛科技有限公司」",
            '张三 created account "北京大盛科技有限公司"',
        ),
        (
            _change(
                FeedAction.UPDATE, module="Opportunities", record_name="云启 CRM 项目"
            ),
            "张三 修改了商机「云启 CRM 项目」",
            '张三 updated opportunity "云启 CRM 项目"',
        ),
        (
            _change(FeedAction.DELETE, module="Notes", record_name="首次拜访纪要"),
            "张三 删除了备忘录「首次拜访纪要」",
            '张三 deleted note "首次拜访纪要"',
        ),
        (
            _change(FeedAction.RELATE, **LINK),
            "张三 将联系人「王五」关联到客户「北京大盛科技有限公司」",
            '张三 linked contact "王五" to account "北京大盛科技有限公司"',
        ),
        (
            _change(FeedAction.UNRELATE, **LINK),
            "张三 取消了联系人「王五」与客户「北京大盛科技有限公司」的关联",
            '张三 unlinked contact "王五" from account "北京大盛科技有限公司"',
        ),
    ],
    ids=["create", "update", "delete", "relate", "unrelate"],
)
def test_render_text_in_both_languages(change: FeedChange, zh: str, en: str) -> None:
    assert render_text(change, "zh_CN") == zh
    assert render_text(change, "en") == en


def test_names_are_inserted_as_stored_without_escaping() -> None:
    change = _change(FeedAction.CREATE, record_name='A&B "Q" <i>丁\'s</i> 😀')

    assert render_text(change, "en") == '张三 created account "A&B "Q" <i>丁\'s</i> 😀"'


def test_missing_names_read_as_placeholders() -> None:
    change = _change(FeedAction.CREATE, record_name="", actor_name="")

    assert render_text(change, "zh_CN") == "（未知用户） 新建了客户「（无名称）」"
    assert render_text(change, "en") == '(unknown user) created account "(no name)"'


@pytest.mark.parametrize(
    ("module", "zh", "en"),
    [
        ("Accounts", "客户", "account"),
        ("Contacts", "联系人", "contact"),
        ("Opportunities", "商机", "opportunity"),
        ("Notes", "备忘录", "note"),
        ("Documents", "文档", "document"),
        ("Meetings", "会议", "meeting"),
        ("AOS_Quotes", "AOS_Quotes", "AOS_Quotes"),
    ],
    ids=[
        "Accounts",
        "Contacts",
        "Opportunities",
        "Notes",
        "Documents",
        "Meetings",
        "unmapped",
    ],
)
def test_module_labels_come_from_the_mapping(module: str, zh: str, en: str) -> None:
    assert module_label(module, "zh_CN") == zh
    assert module_label(module, "en") == en


def test_field_and_value_without_a_label_are_shown_by_key(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The label files are another area's; without them the keys show.
    monkeypatch.setattr(render, "FIELD_LABELS_FILE", tmp_path / "missing.yaml")
    monkeypatch.setattr(render, "DROPDOWN_LABELS_FILE", tmp_path / "missing.yaml")
    render.field_labels.cache_clear()
    render.dropdown_labels.cache_clear()
    try:
        change = _change(
            FeedAction.UPDATE,
            module="Opportunities",
            record_name="云启",
            field_changes=(FieldChange("sales_stage", "Prospecting", None),),
        )

        text = render_text(change, "zh_CN")
    finally:
        render.field_labels.cache_clear()
        render.dropdown_labels.cache_clear()

    assert text == "张三 修改了商机「云启」：sales_stage：Prospecting -> （空）"


def test_user_fields_show_the_user_name() -> None:
    change = _change(
        FeedAction.UPDATE,
        field_changes=(
            FieldChange(
                "assigned_user_id", "u1", "u2", old_text="张三", new_text="李四"
            ),
        ),
    )

    assert render_text(change, "en").endswith(": assigned_user_id: 张三 -> 李四")
