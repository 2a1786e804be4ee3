"""The Content-Security-Policy and what makes it possible: no inline script or style anywhere,
and the API documentation served from this install alone (no CDN: it must work offline)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import Role
from tests import factories

ROOT = Path(__file__).resolve().parent.parent
STRICT = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def policy(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    directives = (part.strip().split(" ", 1) for part in header.split(";") if part.strip())
    return {name: value for name, value in directives}


class _Tags(HTMLParser):
    """Every start tag of a page, with its attributes."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self._script: dict | None = None
        self.inline_scripts: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "script" and "src" not in attributes and attributes.get("type") != "application/json":
            self._script = attributes
            self.inline_scripts.append("")

    def handle_data(self, data):
        if self._script is not None:
            self.inline_scripts[-1] += data

    def handle_endtag(self, tag):
        if tag == "script":
            self._script = None


def tags_of(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


def assert_nothing_inline(html: str) -> None:
    parsed = tags_of(html)
    assert parsed.inline_scripts == []
    for tag, attributes in parsed.tags:
        assert tag != "style", "a <style> element"
        assert "style" not in attributes, (tag, attributes)
        handlers = [name for name in attributes if name.startswith("on")]
        assert handlers == [], (tag, handlers)
        for name in ("href", "src", "action", "formaction"):
            assert not (attributes.get(name) or "").lower().startswith("javascript:"), (tag, attributes)


# --- The header ------------------------------------------------------------------------------


@pytest.fixture
def pages(account_a, outcome_type):
    factories.ingest(*(factories.event_payload(account_a, f"evt-{i}") for i in range(3)))
    admin, finance, operator = Client(), Client(), Client()
    admin.force_login(factories.make_user(Role.CUSTOMER_ADMIN, account_a))
    finance.force_login(factories.make_user(Role.FINANCE_ADMIN, account_a))
    operator.force_login(factories.make_user(Role.VENDOR_OPERATOR))
    return {
        "/accounts/login/": Client(),
        "/account/acme/": admin,  # the dashboard: Plotly
        "/account/acme/events/": admin,  # the audit table: htmx, row checkboxes
        "/account/acme/spend/": finance,  # the spend page: the cap meter
        "/account/acme/invoices/": admin,
        "/account/acme/not-charged/": admin,
        "/account/acme/plan/": admin,
        "/account/acme/disputes/": admin,
        "/overview/": operator,
        "/disputes/queue/": operator,
        "/disputes/trust/": operator,
        "/accounts/api-keys/": admin,
        "/account/acme/people/": admin,  # htmx forms, hx-confirm
        "/vendor/people/": operator,
        "/catalogue/": operator,  # the catalogue: its forms and the htmx scope selectors
        "/catalogue/new/": operator,
        "/catalogue/types/resolved_conversation/": operator,
        "/catalogue/types/resolved_conversation/criteria/new/": operator,
        "/accounts/password-reset/": Client(),
        "/api/docs/": Client(),
    }


def test_every_page_carries_the_strict_policy_and_nothing_inline(pages):
    for path, client in pages.items():
        response = client.get(path)
        assert response.status_code == 200, path
        assert policy(response) == STRICT, path
        assert_nothing_inline(response.content.decode())


def test_error_pages_carry_the_policy(db):
    response = Client().get("/no-such-page/")
    assert response.status_code == 404
    assert policy(response) == STRICT


def test_redoc_alone_may_use_inline_styles_never_inline_script(db):
    response = Client().get("/api/redoc/")
    assert response.status_code == 200
    assert policy(response) == {**STRICT, "style-src": "'self' 'unsafe-inline'", "worker-src": "'self' blob:"}
    assert_nothing_inline(response.content.decode())


def test_the_dashboard_gives_plotly_a_stylesheet_instead_of_a_style_element(pages):
    html = pages["/account/acme/"].get("/account/acme/").content.decode()
    link = [a for tag, a in tags_of(html).tags if tag == "link" and a.get("id") == "plotly.js-style-global"]
    plotly = [a["src"] for tag, a in tags_of(html).tags if tag == "script" and "plotly" in a.get("src", "")]
    assert link == [{"rel": "stylesheet", "id": "plotly.js-style-global", "href": "/static/css/plotly.css"}]
    assert html.index('id="plotly.js-style-global"') < html.index(plotly[0])  # there before Plotly starts


# --- Templates: no inline script, handler or style, whatever page renders them ----------------

TEMPLATE_DIRS = [ROOT / "templates", *sorted(ROOT.glob("*/templates"))]
TEMPLATES = sorted(path for folder in TEMPLATE_DIRS for path in folder.rglob("*.html"))
INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
STYLE = re.compile(r"<style\b|<[^>]*\sstyle\s*=", re.IGNORECASE)
COMMENT = re.compile(r"{#.*?#}|{% comment %}.*?{% endcomment %}", re.DOTALL)


def test_the_scan_finds_templates():
    assert len(TEMPLATES) >= 36
    assert ROOT / "templates/base.html" in TEMPLATES


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_template_holds_inline_script_or_style(path):
    text = COMMENT.sub("", path.read_text())
    assert INLINE_SCRIPT.findall(text) == [], "inline <script>: move it to static/js and pass data by json_script"
    assert EVENT_HANDLER.findall(text) == [], "an on…= handler: listen from static/js instead"
    assert "javascript:" not in text.lower()
    assert STYLE.findall(text) == [], "inline style: use a class in static/css (a bar's width: an SVG attribute)"


@pytest.mark.parametrize(
    "snippet",
    [
        "<script>alert(1)</script>",
        '<script type="text/javascript">x()</script>',
        '<button onclick="window.print()">',
        '<div style="width: 5%">',
        "<style>body{}</style>",
    ],
)
def test_the_scan_catches_what_it_looks_for(snippet):
    found = INLINE_SCRIPT.search(snippet) or EVENT_HANDLER.search(snippet) or STYLE.search(snippet)
    assert found, snippet


# --- The API documentation: from this install only ---------------------------------------------


def _local(url: str) -> bool:
    return url.startswith("/") and not url.startswith("//")


@pytest.mark.parametrize(("path", "assets"), [("/api/docs/", 6), ("/api/redoc/", 3)])
def test_api_docs_reference_only_local_urls(db, path, assets):
    html = Client().get(path).content.decode()
    urls = [
        value
        for _tag, attributes in tags_of(html).tags
        for name, value in attributes.items()
        if name in ("src", "href", "spec-url") and value and not value.startswith("data:")
    ]
    assert len(urls) == assets
    assert all(_local(url) for url in urls), urls
    assert "cdn." not in html and "googleapis" not in html and "jsdelivr" not in html


def test_swagger_ui_comes_from_the_sidecar_and_its_script_from_this_app(db):
    client = Client()
    html = client.get("/api/docs/").content.decode()
    scripts = [a["src"] for tag, a in tags_of(html).tags if tag == "script"]
    assert scripts == [
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-standalone-preset.js",
        "/api/docs/?script=",
    ]
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    body = script.content.decode()
    assert 'url: "/api/schema/"' in body
    assert '"validatorUrl": null' in body  # no badge fetched from validator.swagger.io
    assert re.findall(r"https?://", body) == []


@pytest.mark.parametrize(
    "asset",
    [
        "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
        "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css",
        "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js",
        "css/api_docs.css",
        "css/plotly.css",
    ],
)
def test_the_assets_ship_with_the_app(asset):
    from django.contrib.staticfiles import finders

    assert finders.find(asset), asset


def test_the_spectacular_settings_name_no_cdn():
    spectacular = settings.SPECTACULAR_SETTINGS
    assert (spectacular["SWAGGER_UI_DIST"], spectacular["SWAGGER_UI_FAVICON_HREF"], spectacular["REDOC_DIST"]) == (
        "SIDECAR",
        "SIDECAR",
        "SIDECAR",
    )
