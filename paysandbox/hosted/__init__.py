"""/__hosted pages: what a shopper would see at the provider (a 3DS challenge, and the
providers' own pages under /__hosted/<provider>/).

A page is reached through an opaque token, never through the API key, so a link can be
opened in a browser or followed by a test without leaking the credential.
"""

from __future__ import annotations

from paysandbox.hosted.app import hosted_app
from paysandbox.hosted.pages import HOSTED_NAMESPACE, PageContext, PageRoute, render_page

__all__ = ["HOSTED_NAMESPACE", "PageContext", "PageRoute", "hosted_app",
           "render_page"]
