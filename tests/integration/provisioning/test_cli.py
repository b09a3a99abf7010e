"""``dscrm roles``: plan, apply, explain, export and presets through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import cli
from dscrm_bridge.sandbox import RunningSandbox

from .conftest import ADMIN_PASSWORD, write_file

ROLES = """
groups: [{name: 销售, description: 销售部, roles: [售前]}]
users:
  - {user_name: user1, full_name: 张三, groups: [销售], password_env: USER1_PW}
  - {user_name: user2, full_name: 李四, groups: [销售]}
"""


@pytest.fixture()
def configured(
    sqlite_sandbox: RunningSandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> RunningSandbox:
    info = sqlite_sandbox.info
    values = {
        "DSCRM_SUITECRM_URL": sqlite_sandbox.base_url,
        "DSCRM_SUITECRM_CLIENT_ID": info.password_client_id,
        "DSCRM_SUITECRM_CLIENT_SECRET": info.password_client_secret,
        "DSCRM_SUITECRM_USERNAME": "admin",
        "DSCRM_SUITECRM_PASSWORD": ADMIN_PASSWORD,
        "DSCRM_SUITECRM_DATABASE_URL": str(
            sqlite_sandbox.engine.url.render_as_string(hide_password=False)
        ),
        "USER1_PW": "admin1234",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    return sqlite_sandbox


def test_plan_apply_explain_export_in_chinese(
    configured: RunningSandbox, tmp_path: Path
) -> None:
    path = write_file(tmp_path, ROLES)
    runner = CliRunner()

    plan = runner.invoke(cli.root, ["roles", "plan", "-f", str(path)])
    applied = runner.invoke(cli.root, ["roles", "apply", "-f", str(path), "--yes"])
    again = runner.invoke(cli.root, ["roles", "apply", "-f", str(path), "--yes"])
    explain = runner.invoke(cli.root, ["roles", "explain", "user1", "客户"])
    export = runner.invoke(cli.root, ["roles", "export", "-o", "out.yaml"])

    assert plan.exit_code == 0, plan.output
    assert "+ 新建安全组「销售」" in plan.output
    assert "+ 把用户 user1 加入安全组「销售」" in plan.output
    assert "结果的安全检查" in plan.output
    assert applied.exit_code == 0, applied.output
    assert "已应用" in applied.output
    assert "用户 user2 的密码：" in applied.output
    assert "admin1234" not in applied.output
    assert "无需更改" in again.output
    assert explain.exit_code == 0, explain.output
    assert "客户(Accounts): 访问 启用(售前), 查看 组(售前)" in explain.output
    assert export.exit_code == 0
    assert "full_name: 张三" in (tmp_path / "out.yaml").read_text("utf-8")


def test_plan_json_in_english_and_a_bad_file_exits_2(
    configured: RunningSandbox, tmp_path: Path
) -> None:
    good = write_file(tmp_path, ROLES)
    bad = write_file(tmp_path, "roles:\n  - name: x\n    extends: 不存在\n", "bad.yaml")
    runner = CliRunner()

    as_json = runner.invoke(
        cli.root, ["--lang", "en", "roles", "plan", "-f", str(good), "--json"]
    )
    refused = runner.invoke(cli.root, ["--lang", "en", "roles", "plan", "-f", str(bad)])

    assert as_json.exit_code == 0, as_json.output
    assert '"kind": "group_user"' in as_json.output
    assert refused.exit_code == 2
    assert f"{bad}:3: role x: extends 不存在, which is not a preset" in refused.output
