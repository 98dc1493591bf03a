"""Every setting is declared with a default and a description, and documented."""

import tomllib
from pathlib import Path

from chanquan.config import Settings, iter_settings, load_settings, render_default_toml

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_has_a_description() -> None:
    rows = iter_settings()
    assert len(rows) > 20
    for section, key, _default, description in rows:
        assert len(description) > 10, f"{section}.{key} has no real description"


def test_every_setting_is_in_the_reference() -> None:
    reference = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for section, key, _default, _description in iter_settings():
        assert f"`{section}.{key}`" in reference, f"{section}.{key} missing from docs/configuration.md"


def test_default_file_round_trips(tmp_path: Path) -> None:
    (tmp_path / "chanquan.toml").write_text(render_default_toml(), encoding="utf-8")
    assert load_settings(tmp_path) == Settings()
    parsed = tomllib.loads(render_default_toml())
    assert set(parsed) == set(Settings.model_fields)


def test_unknown_setting_is_refused(tmp_path: Path) -> None:
    (tmp_path / "chanquan.toml").write_text("[intake]\nsmtp_prot = 25\n", encoding="utf-8")
    import pytest

    from chanquan.config import ConfigError

    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert "smtp_prot" in info.value.problem


def test_readme_reference_is_generated() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    from chanquan.config import render_markdown_reference

    assert f"<!-- settings:begin -->\n{render_markdown_reference()}<!-- settings:end -->" in readme, (
        "README's configuration reference is stale: run .venv/bin/python scripts/gen_config_docs.py"
    )
