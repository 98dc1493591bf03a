"""Page templates (templates/web) and the filters they use; every value is HTML-escaped.

Templates are found beside the packages, as the outbox finds templates/mail; `web_templates_dir`
is the one place that knows where, so moving to importlib.resources is a one-line change.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from starlette.responses import HTMLResponse

from workflow.machine import STATUS_ZH
from workflow.units import level_name

CHINA = timezone(timedelta(hours=8), "CST")
CHANNEL_ZH = {"smtp": "邮件", "dropbox": "投递目录", "web": "网页", "contact": "联系人邮件"}


def web_templates_dir() -> Path:
    """templates/web (pages, and static/ with the stylesheet) as shipped with chanquan."""
    return Path(__file__).resolve().parents[1] / "templates" / "web"


@lru_cache(maxsize=65536)
def china_time(iso: str | None) -> str:
    """An ISO time (UTC in the ledger) as Beijing time to the minute; '' for none (remembered: the same
    event times are shown on many pages)."""
    if not iso:
        return ""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M")


def level_zh(level: int) -> str:
    """How the portal names a unit's place in the tree."""
    if level <= 0:
        return "监管机构"
    return f"{level_name(level)}企业"


def make_environment(directory: Path | None = None) -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(directory or web_templates_dir())),
        autoescape=True,  # every template here is HTML
        undefined=StrictUndefined,
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["cst"] = china_time
    env.filters["state_zh"] = lambda state: STATUS_ZH.get(str(state), str(state))
    env.filters["level_zh"] = level_zh
    env.filters["channel_zh"] = lambda channel: CHANNEL_ZH.get(str(channel), str(channel))
    return env


ROW_CACHE = 65536


class Pages:
    """Renders page templates into responses with the context every page shares.

    List rows are macros of `_rows.html.j2` rendered through `row`, which remembers each row by
    its values: a row is a pure function of them, and the same rows fill many pages (a long
    待审核 list is the same for every session of the unit until something happens to it).
    """

    def __init__(self, env: Environment, common: dict[str, Any]) -> None:
        self.env = env
        self.common = common
        self._rows = env.get_template("_rows.html.j2").module
        self.row = lru_cache(maxsize=ROW_CACHE)(self._row)

    def _row(self, kind: str, *values: Any) -> Markup:
        """One escaped table row (`values` must be hashable: strings, numbers, tuples)."""
        return Markup(getattr(self._rows, kind)(*values))

    def fragment(self, name: str, context: dict[str, Any]) -> Markup:
        """A part of a page, rendered on its own (so that it can be kept and reused)."""
        return Markup(self.env.get_template(name).render(context))

    def render(self, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
        template = self.env.get_template(name)
        return HTMLResponse(template.render({**self.common, **context}), status_code=status)
