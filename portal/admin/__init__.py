"""The admin pages (SASAC's account and the accounts listed in `web.admin_users`): units and
accounts, the filing campaign's progress, and the ledger. Anyone else gets the 404 page, as for
anything that is not theirs. Every change goes through workflow's APIs, as the CLI's do, and so
is a ledger event; every form carries the session's CSRF token."""

from __future__ import annotations

from starlette.routing import BaseRoute

from portal.admin import ledger_pages, progress_pages, unit_pages


def routes() -> list[BaseRoute]:
    return [*unit_pages.routes(), *progress_pages.routes(), *ledger_pages.routes()]
