"""The vocabulary of a roles file and the desired state it describes.

Words a person writes (``全部``, ``group``, ``查看`` ...) become SuiteCRM's numbers
here (acl-notes 1), and a roles file becomes a :class:`RolesSpec`: groups, roles
with their full matrix, users.  Nothing here reads a file or talks to SuiteCRM.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from dscrm_bridge.suitecrm.acl import (
    ACL_ALLOW_ALL,
    ACL_ALLOW_DEFAULT,
    ACL_ALLOW_DISABLED,
    ACL_ALLOW_ENABLED,
    ACL_ALLOW_GROUP,
    ACL_ALLOW_NONE,
    ACL_ALLOW_OWNER,
    LEVEL_SCOPES,
    MODULE_ACTIONS,
)

# Words for a level, English and Chinese; "access" reads all/none as
# enabled/disabled, which is what a person means there.
LEVEL_WORDS: Mapping[str, int] = {
    "all": ACL_ALLOW_ALL,
    "全部": ACL_ALLOW_ALL,
    "group": ACL_ALLOW_GROUP,
    "组": ACL_ALLOW_GROUP,
    "owner": ACL_ALLOW_OWNER,
    "所有者": ACL_ALLOW_OWNER,
    "none": ACL_ALLOW_NONE,
    "无": ACL_ALLOW_NONE,
    "not_set": ACL_ALLOW_DEFAULT,
    "not set": ACL_ALLOW_DEFAULT,
    "未设置": ACL_ALLOW_DEFAULT,
    "enabled": ACL_ALLOW_ENABLED,
    "启用": ACL_ALLOW_ENABLED,
    "disabled": ACL_ALLOW_DISABLED,
    "禁用": ACL_ALLOW_DISABLED,
}
ACCESS_SYNONYMS: Mapping[int, int] = {
    ACL_ALLOW_ALL: ACL_ALLOW_ENABLED,
    ACL_ALLOW_NONE: ACL_ALLOW_DISABLED,
}

# What SuiteCRM's role editor offers per action (acl-notes 1).
_FULL = frozenset(
    {ACL_ALLOW_ALL, ACL_ALLOW_GROUP, ACL_ALLOW_OWNER, ACL_ALLOW_DEFAULT, ACL_ALLOW_NONE}
)
ALLOWED_LEVELS: Mapping[str, frozenset[int]] = {
    "access": frozenset({ACL_ALLOW_ENABLED, ACL_ALLOW_DEFAULT, ACL_ALLOW_DISABLED}),
    "view": _FULL,
    "list": _FULL,
    "edit": _FULL,
    "delete": _FULL,
    "export": _FULL,
    "import": frozenset({ACL_ALLOW_ALL, ACL_ALLOW_DEFAULT, ACL_ALLOW_NONE}),
    "massupdate": frozenset({ACL_ALLOW_ALL, ACL_ALLOW_DEFAULT, ACL_ALLOW_NONE}),
}

ACTION_WORDS: Mapping[str, str] = {
    **{action: action for action in MODULE_ACTIONS},
    "访问": "access",
    "查看": "view",
    "列表": "list",
    "编辑": "edit",
    "删除": "delete",
    "导入": "import",
    "导出": "export",
    "批量更新": "massupdate",
}
ACTION_LABELS_ZH: Mapping[str, str] = {
    action: word for word, action in ACTION_WORDS.items() if word != action
}

# The words written back by export and shown in English output.
CANONICAL_WORDS: Mapping[int, str] = {
    ACL_ALLOW_ALL: "all",
    ACL_ALLOW_GROUP: "group",
    ACL_ALLOW_OWNER: "owner",
    ACL_ALLOW_NONE: "none",
    ACL_ALLOW_DEFAULT: "not_set",
    ACL_ALLOW_ENABLED: "enabled",
    ACL_ALLOW_DISABLED: "disabled",
}
CHINESE_WORDS: Mapping[int, str] = {
    ACL_ALLOW_ALL: "全部",
    ACL_ALLOW_GROUP: "组",
    ACL_ALLOW_OWNER: "所有者",
    ACL_ALLOW_NONE: "无",
    ACL_ALLOW_DEFAULT: "未设置",
    ACL_ALLOW_ENABLED: "启用",
    ACL_ALLOW_DISABLED: "禁用",
}
assert set(CANONICAL_WORDS) == set(LEVEL_SCOPES)

# The user-facing modules of a stock SuiteCRM 7.13 that the presets cover, with
# the Chinese labels a roles file may use instead of the module name.
STANDARD_MODULES: Mapping[str, str] = {
    "Accounts": "客户",
    "Contacts": "联系人",
    "Leads": "潜在客户",
    "Opportunities": "商机",
    "Cases": "工单",
    "Bugs": "缺陷",
    "Calls": "电话",
    "Meetings": "会议",
    "Tasks": "任务",
    "Notes": "备忘录",
    "Documents": "文档",
    "Emails": "邮件",
    "Campaigns": "市场活动",
    "Prospects": "目标",
    "ProspectLists": "目标列表",
    "Project": "项目",
    "ProjectTask": "项目任务",
    "AOS_Quotes": "报价",
    "AOS_Contracts": "合同",
    "AOS_Invoices": "发票",
    "AOS_Products": "产品",
    "AOS_Product_Categories": "产品类别",
    "AOK_KnowledgeBase": "知识库",
    "AOR_Reports": "报表",
}

# Every module of the role matrix of a stock 7.13.2 (acl_actions.sql, 59
# categories); Users is not part of the editable matrix (B7b).  A live
# SuiteCRM may have more (custom modules): those come from its acl_actions.
SUITECRM_MODULES: tuple[str, ...] = (
    *STANDARD_MODULES,
    "AM_ProjectTemplates",
    "AM_TaskTemplates",
    "AOD_Index",
    "AOD_IndexEvent",
    "AOK_Knowledge_Base_Categories",
    "AOP_Case_Events",
    "AOP_Case_Updates",
    "AOR_Scheduled_Reports",
    "AOS_PDF_Templates",
    "AOW_Processed",
    "AOW_WorkFlow",
    "Alerts",
    "Calls_Reschedule",
    "EAPM",
    "EmailMarketing",
    "EmailTemplates",
    "ExternalOAuthConnection",
    "ExternalOAuthProvider",
    "FP_Event_Locations",
    "FP_events",
    "InboundEmail",
    "OutboundEmailAccounts",
    "SecurityGroups",
    "Spots",
    "SurveyQuestionOptions",
    "SurveyQuestionResponses",
    "SurveyQuestions",
    "SurveyResponses",
    "Surveys",
    "TemplateSectionLine",
    "jjwg_Address_Cache",
    "jjwg_Areas",
    "jjwg_Maps",
    "jjwg_Markers",
)
NOT_IN_MATRIX = frozenset({"Users"})

USER_STATUSES: Mapping[str, str] = {
    "active": "Active",
    "启用": "Active",
    "在职": "Active",
    "inactive": "Inactive",
    "停用": "Inactive",
    "离职": "Inactive",
}

Cell = tuple[str, str]  # (module, action)


@dataclass(frozen=True)
class RoleSpec:
    """An ACL role as the file wants it; ``cells`` holds every set cell."""

    name: str
    description: str | None  # None: not managed by the file
    cells: Mapping[Cell, int]
    line: int = 0

    def level(self, module: str, action: str) -> int:
        return self.cells.get((module, action), ACL_ALLOW_DEFAULT)


@dataclass(frozen=True)
class GroupSpec:
    """A security group; ``roles``/``members`` are None when the file is silent."""

    name: str
    description: str | None  # None: not managed by the file
    roles: frozenset[str] | None
    members: frozenset[str] | None
    line: int = 0


@dataclass(frozen=True)
class UserSpec:
    """A user; optional fields left None are not managed by the file."""

    user_name: str
    first_name: str | None
    last_name: str | None
    status: str | None
    is_admin: bool | None
    groups: frozenset[str] | None
    roles: frozenset[str] | None
    password_env: str | None = None
    email: str | None = None
    title: str | None = None
    department: str | None = None
    line: int = 0


@dataclass(frozen=True)
class RolesSpec:
    """The whole desired state of one roles file."""

    path: str
    prune: bool
    groups: Mapping[str, GroupSpec] = field(default_factory=dict)
    roles: Mapping[str, RoleSpec] = field(default_factory=dict)
    users: Mapping[str, UserSpec] = field(default_factory=dict)


def full_name(first_name: str, last_name: str) -> str:
    """The name as a person writes it: 张三 (family first) or John Smith."""
    if _is_cjk(last_name + first_name):
        return f"{last_name}{first_name}"
    return " ".join(part for part in (first_name, last_name) if part)


# Two-character family names common enough to split 欧阳修 as 欧阳 + 修.
_COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 轩辕 令狐 "
    "钟离 端木 南宫 独孤 西门".split()
)


def split_full_name(name: str) -> tuple[str, str]:
    """``(first_name, last_name)`` of a full name: 张三 -> (三, 张)."""
    name = name.strip()
    if " " in name:
        first, _sep, last = name.partition(" ")
        return first.strip(), last.strip()
    if not _is_cjk(name) or len(name) < 2:
        return "", name
    surname_length = 2 if name[:2] in _COMPOUND_SURNAMES and len(name) > 2 else 1
    return name[surname_length:], name[:surname_length]


def _is_cjk(text: str) -> bool:
    return bool(text) and all("\u3400" <= ch <= "\u9fff" for ch in text)
