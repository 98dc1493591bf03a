"""portal: the web door (Starlette + Jinja2): login, 首页/待办, filing pages, downloads (docs/portal.md)."""

from portal.app import create_app
from portal.config import PortalConfig
from portal.context import Portal, Viewer
from portal.visibility import can_see

__all__ = ["Portal", "PortalConfig", "Viewer", "can_see", "create_app"]
