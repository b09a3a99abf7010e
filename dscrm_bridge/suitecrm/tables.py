"""SuiteCRM's own tables, as SQLAlchemy Core definitions.

The one definition of SuiteCRM's schema in the bridge: the SQL gateway, the ACL
evaluator and the sandbox all use these. Names, types and lengths follow a real
SuiteCRM 7.13 database (`mysqldump --no-data`); indexes are those SuiteCRM creates.
The types render as SuiteCRM's on MySQL/MariaDB and work unchanged on SQLite.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

metadata = sa.MetaData()

# char(36) ids, tinyint(1) flags and int(n) counters as SuiteCRM declares them;
# on SQLite they fall back to the generic type.
ID = sa.CHAR(36)
FLAG = sa.SmallInteger().with_variant(mysql.TINYINT(1), "mysql", "mariadb")


def _int(width: int) -> sa.types.TypeEngine[int]:
    """An integer column with SuiteCRM's display width, e.g. int(3) for ACL access."""
    return sa.Integer().with_variant(mysql.INTEGER(width), "mysql", "mariadb")


DOUBLE = sa.Float(precision=53).with_variant(mysql.DOUBLE(), "mysql", "mariadb")


users = sa.Table(
    "users",
    metadata,
    sa.Column("id", ID, nullable=False, primary_key=True),
    sa.Column("user_name", sa.String(60)),
    sa.Column("user_hash", sa.String(255)),
    sa.Column("system_generated_password", FLAG),
    sa.Column("pwd_last_changed", sa.DateTime()),
    sa.Column("authenticate_id", sa.String(100)),
    sa.Column("sugar_login", FLAG, server_default="1"),
    sa.Column("first_name", sa.String(255)),
    sa.Column("last_name", sa.String(255)),
    sa.Column("is_admin", FLAG, server_default="0"),
    sa.Column("external_auth_only", FLAG, server_default="0"),
    sa.Column("receive_notifications", FLAG, server_default="1"),
    sa.Column("description", sa.Text()),
    sa.Column("date_entered", sa.DateTime()),
    sa.Column("date_modified", sa.DateTime()),
    sa.Column("modified_user_id", ID),
    sa.Column("created_by", ID),
    sa.Column("title", sa.String(50)),
    sa.Column("photo", sa.String(255)),
    sa.Column("department", sa.String(50)),
    sa.Column("phone_home", sa.String(50)),
    sa.Column("phone_mobile", sa.String(50)),
    sa.Column("phone_work", sa.String(50)),
    sa.Column("phone_other", sa.String(50)),
    sa.Column("phone_fax", sa.String(50)),
    sa.Column("status", sa.String(100)),
    sa.Column("address_street", sa.String(150)),
    sa.Column("address_city", sa.String(100)),
    sa.Column("address_state", sa.String(100)),
    sa.Column("address_country", sa.String(100)),
    sa.Column("address_postalcode", sa.String(20)),
    sa.Column("deleted", FLAG),
    sa.Column("portal_only", FLAG, server_default="0"),
    sa.Column("show_on_employees", FLAG, server_default="1"),
    sa.Column("employee_status", sa.String(100)),
    sa.Column("messenger_id", sa.String(100)),
    sa.Column("messenger_type", sa.String(100)),
    sa.Column("reports_to_id", ID),
    sa.Column("is_group", FLAG),
    sa.Column("factor_auth", FLAG),
    sa.Column("factor_auth_interface", sa.String(255)),
    sa.Index(
        "idx_user_name",
        "user_name",
        "is_group",
        "status",
        "last_name",
        "first_name",
        "id",
    ),
)


securitygroups = sa.Table(
    "securitygroups",
    metadata,
    sa.Column("id", ID, nullable=False, primary_key=True),
    sa.Column("name", sa.String(255)),
    sa.Column("date_entered", sa.DateTime()),
    sa.Column("date_modified", sa.DateTime()),
    sa.Column("modified_user_id", ID),
    sa.Column("created_by", ID),
    sa.Column("description", sa.Text()),
    sa.Column("deleted", FLAG, server_default="0"),
    sa.Column("assigned_user_id", ID),
    sa.Column("noninheritable", FLAG),
)


securitygroups_users = sa.Table(
    "securitygroups_users",
    metadata,
    sa.Column("id", sa.String(36), nullable=False, primary_key=True),
    sa.Column("date_modified", sa.DateTime()),
    sa.Column("deleted", FLAG, server_default="0"),
    sa.Column("securitygroup_id", sa.String(36)),
    sa.Column("user_id", sa.String(36)),
    sa.Column("primary_group", FLAG),
    sa.Column("noninheritable", FLAG, server_default="0"),
    sa.Index("securitygroups_users_idxa", "securitygroup_id"),
    sa.Index("securitygroups_users_idxb", "user_id"),
    sa.Index(
        "securitygroups_users_idxc", "user_id", "deleted", "securitygroup_id", "id"
    ),
    sa.Index("securitygroups_users_idxd", "user_id", "deleted", "securitygroup_id"),
)


securitygroups_acl_roles = sa.Table(
    "securitygroups_acl_roles",
    metadata,
    sa.Column("id", ID, nullable=False, primary_key=True),
    sa.Column("securitygroup_id", ID),
    sa.Column("role_id", ID),
    sa.Column("date_modified", sa.DateTime()),
    sa.Column("deleted", FLAG, server_default="0"),
)


securitygroups_records = sa.Table(
    "securitygroups_records",
    metadata,
    sa.Column("id", ID, nullable=False, primary_key=True),
    sa.Column("securitygroup_id", ID),
    sa.Column("record_id", ID),
    sa.Column("module", sa.String(100)),
    sa.Column("date_modified", sa.DateTime()),
    sa.Column("modified_user_id", ID),
    sa.Column("created_by", ID),
    sa.Column("deleted", FLAG, server_default="0"),
    sa.Index(
        "idx_securitygroups_records_mod",
        "module",
        "deleted",
        "record_id",
        "securitygroup_id",
    ),
    sa.Index(
        "idx_securitygroups_records_del",
        "deleted",
        "record_id",
        "module",
        "securitygroup_id",
    ),
)


acl_roles = sa.Table(
    "acl_roles",
    metadata,
    sa.Column("id", ID, nullable=False, primary_key=True),
    sa.Column("date_entered", sa.DateTime()),
    sa.Column("date_modified", sa.DateTime()),
    sa.Column("modified_user_id", ID),
    sa.Column("created_by", ID),
    sa.Column("name", sa.String(150)),
    sa.Column("description", sa.Text()),
    sa.Column("deleted", FLAG),
    sa.Index("idx_aclrole_id_del", "id", "deleted"),
)


acl_actions = sa.Table(
    "acl_actions",
    metadata,
    sa.Column("id", ID, nullable=False, primary_key=True),
    sa.Column("date_entered", sa.DateTime()),
    sa.Column("date_modified", sa.DateTime()),
    sa.Column("modified_user_id", ID),
    sa.Column("created_by", ID),
    sa.Column("name", sa.String(150)),
    sa.Column("category", sa.String(100)),
    sa.Column("acltype", sa.String(100)),
    sa.Column("aclaccess", _int(3)),
    sa.Column("deleted", FLAG),
    sa.Index("idx_aclaction_id_del", "id", "deleted"),
    sa.Index("idx_category_name", "category", "name"),
)


acl_roles_actions = sa.Table(
    "acl_roles_actions",
    metadata,
    sa.Column("id", sa.String(36), nullable=False, primary_key=True),
    sa.Column("role_id", sa.String(36)),
    sa.Column("action_id", sa.String(36)),
    sa.Column("access_override", _int(3)),
    sa.Column("date_modified", sa.DateTime()),
    sa.Column("deleted", FLAG, server_default="0"),
    sa.Index("idx_acl_role_id", "role_id"),
    sa.Index("idx_acl_action_id", "action_id"),
    sa.Index("idx_aclrole_action", "role_id", "action_id"),
)


acl_roles_users = sa.Table(
    "acl_roles_users",
    metadata,
    sa.Column("id", sa.String(36), nullable=False, primary_key=True),
    sa.Column("role_id", sa.String(36)),
    sa.Column("user_id", sa.String(36)),
    sa.Column("date_modified", sa.DateTime()),
    sa.Column("deleted", FLAG, server_default="0"),
    sa.Index("idx_aclrole_id", "role_id"),
    sa.Index("idx_acluser_id", "user_id"),
    sa.Index("idx_aclrole_user", "role_id", "user_id"),
)


accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", ID, nullable=False, primary_key=True),
    sa.Column("name", sa.String(150)),
    sa.Column("date_entered", sa.DateTime()),
    sa.Column("date_modified", sa.DateTime()),
    sa.Column("modified_user_id", ID),
    sa.Column("created_by", ID),
    sa.Column("description", sa.Text()),
    sa.Column("deleted", FLAG, server_default="0"),
    sa.Column("assigned_user_id", ID),
    sa.Column("account_type", sa.String(50)),
    sa.Column("industry", sa.String(50)),
    sa.Column("annual_revenue", sa.String(100)),
    sa.Column("phone_fax", sa.String(100)),
    sa.Column("billing_address_street", sa.String(150)),
    sa.Column("billing_address_city", sa.String(100)),
    sa.Column("billing_address_state", sa.String(100)),
    sa.Column("billing_address_postalcode", sa.String(20)),
    sa.Column("billing_address_country", sa.String(255)),
    sa.Column("rating", sa.String(100)),
    sa.Column("phone_office", sa.String(100)),
    sa.Column("phone_alternate", sa.String(100)),
    sa.Column("website", sa.String(255)),
    sa.Column("ownership", sa.String(100)),
    sa.Column("employees", sa.String(10)),
    sa.Column("ticker_symbol", sa.String(10)),
    sa.Column("shipping_address_street", sa.String(150)),
    sa.Column("shipping_address_city", sa.String(100)),
    sa.Column("shipping_address_state", sa.String(100)),
    sa.Column("shipping_address_postalcode", sa.String(20)),
    sa.Column("shipping_address_country", sa.String(255)),
    sa.Column("parent_id", ID),
    sa.Column("sic_code", sa.String(10)),
    sa.Column("campaign_id", ID),
    sa.Index("idx_accnt_id_del", "id", "deleted"),
    sa.Index("idx_accnt_name_del", "name", "deleted"),
    sa.Index("idx_accnt_assigned_del", "deleted", "assigned_user_id"),
    sa.Index("idx_accnt_parent_id", "parent_id"),
)


contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("id", ID, nullable=False, primary_key=True),
    sa.Column("date_entered", sa.DateTime()),
    sa.Column("date_modified", sa.DateTime()),
    sa.Column("modified_user_id", ID),
    sa.Column("created_by", ID),
    sa.Column("description", sa.Text()),
    sa.Column("deleted", FLAG, server_default="0"),
    sa.Column("assigned_user_id", ID),
    sa.Column("salutation", sa.String(255)),
    sa.Column("first_name", sa.String(100)),
    sa.Column("last_name", sa.String(100)),
    sa.Column("title", sa.String(100)),
    sa.Column("photo", sa.String(255)),
    sa.Column("department", sa.String(255)),
    sa.Column("do_not_call", FLAG, server_default="0"),
    sa.Column("phone_home", sa.String(100)),
    sa.Column("phone_mobile", sa.String(100)),
    sa.Column("phone_work", sa.String(100)),
    sa.Column("phone_other", sa.String(100)),
    sa.Column("phone_fax", sa.String(100)),
    sa.Column("lawful_basis", sa.Text()),
    sa.Column("date_reviewed", sa.Date()),
    sa.Column("lawful_basis_source", sa.String(100)),
    sa.Column("primary_address_street", sa.String(150)),
    sa.Column("primary_address_city", sa.String(100)),
    sa.Column("primary_address_state", sa.String(100)),
    sa.Column("primary_address_postalcode", sa.String(20)),
    sa.Column("primary_address_country", sa.String(255)),
    sa.Column("alt_address_street", sa.String(150)),
    sa.Column("alt_address_city", sa.String(100)),
    sa.Column("alt_address_state", sa.String(100)),
    sa.Column("alt_address_postalcode", sa.String(20)),
    sa.Column("alt_address_country", sa.String(255)),
    sa.Column("assistant", sa.String(75)),
    sa.Column("assistant_phone", sa.String(100)),
    sa.Column("lead_source", sa.String(255)),
    sa.Column("reports_to_id", ID),
    sa.Column("birthdate", sa.Date()),
    sa.Column("campaign_id", ID),
    sa.Column("joomla_account_id", sa.String(255)),
    sa.Column("portal_account_disabled", FLAG),
    sa.Column("portal_user_type", sa.String(100), server_default="Single"),
    sa.Index("idx_cont_last_first", "last_name", "first_name", "deleted"),
    sa.Index("idx_contacts_del_last", "deleted", "last_name"),
    sa.Index("idx_cont_del_reports", "deleted", "reports_to_id", "last_name"),
    sa.Index("idx_reports_to_id", "reports_to_id"),
    sa.Index("idx_del_id_user", "deleted", "id", "assigned_user_id"),
    sa.Index("idx_cont_assigned", "assigned_user_id"),
)


accounts_contacts = sa.Table(
    "accounts_contacts",
    metadata,
    sa.Column("id", sa.String(36), nullable=False, primary_key=True),
    sa.Column("contact_id", sa.String(36)),
    sa.Column("account_id", sa.String(36)),
    sa.Column("date_modified", sa.DateTime()),
    sa.Column("deleted", FLAG, server_default="0"),
    sa.Index("idx_account_contact", "account_id", "contact_id"),
    sa.Index("idx_contid_del_accid", "contact_id", "deleted", "account_id"),
)


notes = sa.Table(
    "notes",
    metadata,
    sa.Column("assigned_user_id", ID),
    sa.Column("id", ID, nullable=False, primary_key=True),
    sa.Column("date_entered", sa.DateTime()),
    sa.Column("date_modified", sa.DateTime()),
    sa.Column("modified_user_id", ID),
    sa.Column("created_by", ID),
    sa.Column("name", sa.String(255)),
    sa.Column("file_mime_type", sa.String(100)),
    sa.Column("filename", sa.String(255)),
    sa.Column("parent_type", sa.String(255)),
    sa.Column("parent_id", ID),
    sa.Column("contact_id", ID),
    sa.Column("portal_flag", FLAG),
    sa.Column("embed_flag", FLAG, server_default="0"),
    sa.Column("description", sa.Text()),
    sa.Column("deleted", FLAG, server_default="0"),
    sa.Index("idx_note_name", "name"),
    sa.Index("idx_notes_parent", "parent_id", "parent_type"),
    sa.Index("idx_note_contact", "contact_id"),
    sa.Index("idx_notes_assigned_del", "deleted", "assigned_user_id"),
)


opportunities = sa.Table(
    "opportunities",
    metadata,
    sa.Column("id", ID, nullable=False, primary_key=True),
    sa.Column("name", sa.String(50)),
    sa.Column("date_entered", sa.DateTime()),
    sa.Column("date_modified", sa.DateTime()),
    sa.Column("modified_user_id", ID),
    sa.Column("created_by", ID),
    sa.Column("description", sa.Text()),
    sa.Column("deleted", FLAG, server_default="0"),
    sa.Column("assigned_user_id", ID),
    sa.Column("opportunity_type", sa.String(255)),
    sa.Column("campaign_id", ID),
    sa.Column("lead_source", sa.String(50)),
    sa.Column("amount", DOUBLE),
    sa.Column("amount_usdollar", DOUBLE),
    sa.Column("currency_id", ID),
    sa.Column("date_closed", sa.Date()),
    sa.Column("next_step", sa.String(100)),
    sa.Column("sales_stage", sa.String(255)),
    sa.Column("probability", DOUBLE),
    sa.Index("idx_opp_name", "name"),
    sa.Index("idx_opp_assigned", "assigned_user_id"),
    sa.Index("idx_opp_id_deleted", "id", "deleted"),
)


accounts_opportunities = sa.Table(
    "accounts_opportunities",
    metadata,
    sa.Column("id", sa.String(36), nullable=False, primary_key=True),
    sa.Column("opportunity_id", sa.String(36)),
    sa.Column("account_id", sa.String(36)),
    sa.Column("date_modified", sa.DateTime()),
    sa.Column("deleted", FLAG, server_default="0"),
    sa.Index("idx_account_opportunity", "account_id", "opportunity_id"),
    sa.Index("idx_oppid_del_accid", "opportunity_id", "deleted", "account_id"),
)


documents = sa.Table(
    "documents",
    metadata,
    sa.Column("id", ID, nullable=False, primary_key=True),
    sa.Column("date_entered", sa.DateTime()),
    sa.Column("date_modified", sa.DateTime()),
    sa.Column("modified_user_id", ID),
    sa.Column("created_by", ID),
    sa.Column("description", sa.Text()),
    sa.Column("deleted", FLAG, server_default="0"),
    sa.Column("assigned_user_id", ID),
    sa.Column("document_name", sa.String(255)),
    sa.Column("doc_id", sa.String(100)),
    sa.Column("doc_type", sa.String(100), server_default="Sugar"),
    sa.Column("doc_url", sa.String(255)),
    sa.Column("active_date", sa.Date()),
    sa.Column("exp_date", sa.Date()),
    sa.Column("category_id", sa.String(100)),
    sa.Column("subcategory_id", sa.String(100)),
    sa.Column("status_id", sa.String(100)),
    sa.Column("document_revision_id", sa.String(36)),
    sa.Column("related_doc_id", ID),
    sa.Column("related_doc_rev_id", ID),
    sa.Column("is_template", FLAG, server_default="0"),
    sa.Column("template_type", sa.String(100)),
    sa.Index("idx_doc_cat", "category_id", "subcategory_id"),
)


document_revisions = sa.Table(
    "document_revisions",
    metadata,
    sa.Column("id", sa.String(36), nullable=False, primary_key=True),
    sa.Column("change_log", sa.String(255)),
    sa.Column("document_id", sa.String(36)),
    sa.Column("doc_id", sa.String(100)),
    sa.Column("doc_type", sa.String(100)),
    sa.Column("doc_url", sa.String(255)),
    sa.Column("date_entered", sa.DateTime()),
    sa.Column("created_by", ID),
    sa.Column("filename", sa.String(255)),
    sa.Column("file_ext", sa.String(100)),
    sa.Column("file_mime_type", sa.String(100)),
    sa.Column("revision", sa.String(100)),
    sa.Column("deleted", FLAG, server_default="0"),
    sa.Column("date_modified", sa.DateTime()),
    sa.Index("documentrevision_mimetype", "file_mime_type"),
)


documents_opportunities = sa.Table(
    "documents_opportunities",
    metadata,
    sa.Column("id", sa.String(36), nullable=False, primary_key=True),
    sa.Column("date_modified", sa.DateTime()),
    sa.Column("deleted", FLAG, server_default="0"),
    sa.Column("document_id", sa.String(36)),
    sa.Column("opportunity_id", sa.String(36)),
    sa.Index("idx_docu_opps_oppo_id", "opportunity_id", "document_id"),
    sa.Index("idx_docu_oppo_docu_id", "document_id", "opportunity_id"),
)


meetings = sa.Table(
    "meetings",
    metadata,
    sa.Column("id", ID, nullable=False, primary_key=True),
    sa.Column("name", sa.String(50)),
    sa.Column("date_entered", sa.DateTime()),
    sa.Column("date_modified", sa.DateTime()),
    sa.Column("modified_user_id", ID),
    sa.Column("created_by", ID),
    sa.Column("description", sa.Text()),
    sa.Column("deleted", FLAG, server_default="0"),
    sa.Column("assigned_user_id", ID),
    sa.Column("location", sa.String(50)),
    sa.Column("password", sa.String(50)),
    sa.Column("join_url", sa.String(200)),
    sa.Column("host_url", sa.String(400)),
    sa.Column("displayed_url", sa.String(400)),
    sa.Column("creator", sa.String(50)),
    sa.Column("external_id", sa.String(50)),
    sa.Column("duration_hours", _int(3)),
    sa.Column("duration_minutes", _int(2)),
    sa.Column("date_start", sa.DateTime()),
    sa.Column("date_end", sa.DateTime()),
    sa.Column("parent_type", sa.String(100)),
    sa.Column("status", sa.String(100), server_default="Planned"),
    sa.Column("type", sa.String(255), server_default="Sugar"),
    sa.Column("parent_id", ID),
    sa.Column("reminder_time", _int(11), server_default="-1"),
    sa.Column("email_reminder_time", _int(11), server_default="-1"),
    sa.Column("email_reminder_sent", FLAG, server_default="0"),
    sa.Column("outlook_id", sa.String(255)),
    sa.Column("sequence", _int(11), server_default="0"),
    sa.Column("repeat_type", sa.String(36)),
    sa.Column("repeat_interval", _int(3), server_default="1"),
    sa.Column("repeat_dow", sa.String(7)),
    sa.Column("repeat_until", sa.Date()),
    sa.Column("repeat_count", _int(7)),
    sa.Column("repeat_parent_id", ID),
    sa.Column("recurring_source", sa.String(36)),
    sa.Column("gsync_id", sa.String(1024)),
    sa.Column("gsync_lastsync", _int(11)),
    sa.Index("idx_mtg_name", "name"),
    sa.Index("idx_meet_par_del", "parent_id", "parent_type", "deleted"),
    sa.Index("idx_meet_stat_del", "assigned_user_id", "status", "deleted"),
    sa.Index("idx_meet_date_start", "date_start"),
)


meetings_contacts = sa.Table(
    "meetings_contacts",
    metadata,
    sa.Column("id", sa.String(36), nullable=False, primary_key=True),
    sa.Column("meeting_id", sa.String(36)),
    sa.Column("contact_id", sa.String(36)),
    sa.Column("required", sa.String(1), server_default="1"),
    sa.Column("accept_status", sa.String(25), server_default="none"),
    sa.Column("date_modified", sa.DateTime()),
    sa.Column("deleted", FLAG, server_default="0"),
    sa.Index("idx_con_mtg_mtg", "meeting_id"),
    sa.Index("idx_con_mtg_con", "contact_id"),
    sa.Index("idx_meeting_contact", "meeting_id", "contact_id"),
)


meetings_users = sa.Table(
    "meetings_users",
    metadata,
    sa.Column("id", sa.String(36), nullable=False, primary_key=True),
    sa.Column("meeting_id", sa.String(36)),
    sa.Column("user_id", sa.String(36)),
    sa.Column("required", sa.String(1), server_default="1"),
    sa.Column("accept_status", sa.String(25), server_default="none"),
    sa.Column("date_modified", sa.DateTime()),
    sa.Column("deleted", FLAG, server_default="0"),
    sa.Index("idx_usr_mtg_mtg", "meeting_id"),
    sa.Index("idx_usr_mtg_usr", "user_id"),
    sa.Index("idx_meeting_users", "meeting_id", "user_id"),
)


sugarfeed = sa.Table(
    "sugarfeed",
    metadata,
    sa.Column("id", ID, nullable=False, primary_key=True),
    sa.Column("name", sa.String(255)),
    sa.Column("date_entered", sa.DateTime()),
    sa.Column("date_modified", sa.DateTime()),
    sa.Column("modified_user_id", ID),
    sa.Column("created_by", ID),
    sa.Column("description", sa.Text()),
    sa.Column("deleted", FLAG, server_default="0"),
    sa.Column("assigned_user_id", ID),
    sa.Column("related_module", sa.String(100)),
    sa.Column("related_id", ID),
    sa.Column("link_url", sa.String(255)),
    sa.Column("link_type", sa.String(30)),
    sa.Index("sgrfeed_date", "date_entered", "deleted"),
)


config = sa.Table(
    "config",
    metadata,
    sa.Column("category", sa.String(32)),
    sa.Column("name", sa.String(32)),
    sa.Column("value", sa.Text()),
    sa.Index("idx_config_cat", "category"),
)


oauth2clients = sa.Table(
    "oauth2clients",
    metadata,
    sa.Column("id", ID, nullable=False, primary_key=True),
    sa.Column("name", sa.String(255)),
    sa.Column("date_entered", sa.DateTime()),
    sa.Column("date_modified", sa.DateTime()),
    sa.Column("modified_user_id", ID),
    sa.Column("created_by", ID),
    sa.Column("description", sa.Text()),
    sa.Column("deleted", FLAG, server_default="0"),
    sa.Column("secret", sa.String(4000)),
    sa.Column("redirect_url", sa.String(255)),
    sa.Column("is_confidential", FLAG, server_default="1"),
    sa.Column("allowed_grant_type", sa.String(255), server_default="password"),
    sa.Column("duration_value", _int(11)),
    sa.Column("duration_amount", _int(11)),
    sa.Column("duration_unit", sa.String(255), server_default="Duration Unit"),
    sa.Column("assigned_user_id", ID),
)


oauth2tokens = sa.Table(
    "oauth2tokens",
    metadata,
    sa.Column("id", ID, nullable=False, primary_key=True),
    sa.Column("name", sa.String(255)),
    sa.Column("date_entered", sa.DateTime()),
    sa.Column("date_modified", sa.DateTime()),
    sa.Column("modified_user_id", ID),
    sa.Column("created_by", ID),
    sa.Column("description", sa.Text()),
    sa.Column("deleted", FLAG, server_default="0"),
    sa.Column("token_is_revoked", FLAG),
    sa.Column("token_type", sa.String(255)),
    sa.Column("access_token_expires", sa.DateTime()),
    sa.Column("access_token", sa.String(4000)),
    sa.Column("refresh_token", sa.String(4000)),
    sa.Column("refresh_token_expires", sa.DateTime()),
    sa.Column("grant_type", sa.String(255)),
    sa.Column("state", sa.String(1024)),
    sa.Column("client", ID),
    sa.Column("assigned_user_id", ID),
)
