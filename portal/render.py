"""Page templates (templates/web) and the filters they use; every value is HTML-escaped.

Templates are found beside the packages, as the outbox finds templates/mail; `web_templates_dir`
is the one place that knows where, so moving to importlib.resources is a one-line change.
"""

from __future__ import annotations

import importlib.resources
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup
from starlette.responses import HTMLResponse

from ledger.localtime import reader_time, reader_zone, zone_label
from workflow.batch import CHANNEL_LABELS
from workflow.machine import STATUS_ZH
from workflow.units import level_name


def web_templates_dir() -> Path:
    """templates/web (pages, and static/ with the stylesheet) as shipped with chanquan."""
    return Path(str(importlib.resources.files("portal.web_templates")))


def china_time(iso: str | None) -> str:
    """An ISO time (UTC in the ledger) in the supervisor's zone to the minute ('' for none), by the one
    formatter every layer uses (ledger.localtime); the footer of every page names the zone once."""
    return _reader_minute(iso or "", reader_zone())


@lru_cache(maxsize=65536)
def _reader_minute(iso: str, zone: str) -> str:
    """Remembered: the same event times are shown on many pages."""
    return reader_time(iso, zone, label=False)


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
    env.globals["zone_label"] = zone_label  # the footer: which zone the page's times are in
    env.filters["state_zh"] = lambda state: STATUS_ZH.get(str(state), str(state))
    env.filters["level_zh"] = level_zh
    env.filters["channel_zh"] = lambda channel: CHANNEL_LABELS.get(str(channel), str(channel))
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
