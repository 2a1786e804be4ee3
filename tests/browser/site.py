"""Every page of the portal, for every role, as its people see it: the one page list and the checks
that tests/browser/test_every_page.py runs and tests/browser/screenshots.py photographs.

The pages are found the way a person finds them: sign in as the demo user of a role, read the links
of the main navigation (menus included), the sections' own navigation (Finance) and, for vendor
staff, the same again with an account in view; then a few detail pages reached from them (an event,
an invoice, an invoice line, a dispute, an outcome type). Nothing here needs Django: the functions
take a Playwright page and the portal's address.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

# The demo world's users (metering/demo.py), one per role; the key names the role in reports and
# in the screenshots' folders.
# On each side the role with the most controls comes first (the net checks a page in full once per
# side: tests/browser/test_every_page.py).
ROLES: dict[str, str] = {
    "customer-admin": "acme-admin",
    "finance-admin": "acme-finance",
    "viewer": "acme-viewer",
    "vendor-operator": "vendor-operator",
    "vendor-support": "vendor-support",
    "vendor-finance": "vendor-finance",
}
VENDOR_ROLES = ("vendor-support", "vendor-operator", "vendor-finance")
ACCOUNT = "acme"  # the account vendor staff put in view

# width -> height of the window: two laptops and a phone.
WIDTHS: dict[int, int] = {1280: 800, 1440: 900, 390: 844}

# Links in the navigation that lead out of the portal's own pages: Django's admin is Django's.
NOT_PORTAL = ("/admin/", "/api/")

# Text that should never reach a reader: a rule code, a count without separators, an unfinished
# plural, the half-open period's apology. Code, identifiers, URLs and form values are exempt (the
# scan skips <code>, .mono, .code, <pre>, inputs and [data-raw]).
RAW_TEXT = {
    "number without thousands separators": re.compile(r"(?<![\w.,:/#+@-])\d{5,}(?![\w/-])"),
    "“(s)” plural": re.compile(r"\w\(s\)"),
    "“end excluded”": re.compile(r"end excluded", re.IGNORECASE),
    "snake_case code": re.compile(r"(?<![\w.@/-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w@/-])"),
}
# Raw text a page may still show, by page name: tokens, or whole kinds of RAW_TEXT. None left: every
# page names outcome types by their names and explains fields in words (issue 16).
KNOWN_RAW: dict[str, set[str]] = {}

# URLs and e-mail addresses may hold anything; a code in brackets right after its words is a
# reference ("Greeting only (greeting_only)", the code the API and CSV use), not a raw code.
_EXEMPT = re.compile(r"https?://\S+|\S+@\S+|(?<=[\w)]) \([a-z0-9_]+\)")

_VISIBLE_TEXT = """() => {
  const skip = "script, style, noscript, template, code, pre, samp, kbd, .mono, .code, [data-raw], " +
    "input, textarea, svg";
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!el || el.closest(skip)) continue;
    const text = node.textContent.replace(/\\s+/g, " ").trim();
    if (text) out.push(text);
  }
  for (const el of document.querySelectorAll("[aria-label], img[alt]")) {
    if (el.closest(skip)) continue;
    for (const name of ["aria-label", "alt"]) {
      const value = el.getAttribute(name);
      if (value) out.push(value);
    }
  }
  return out;
}"""

_OVERFLOW = """() => {
  const doc = document.documentElement, width = window.innerWidth;
  if (doc.scrollWidth <= width + 1) return null;
  // Name the widest culprits: elements whose right edge passes the window and that are not
  // inside a scrolling box of their own.
  const culprits = [];
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.right <= width + 1 || box.width === 0) continue;
    let inner = el.parentElement, scrolled = false;
    while (inner && inner !== document.body) {
      const style = getComputedStyle(inner);
      if (/(auto|scroll|hidden|clip)/.test(style.overflowX)) { scrolled = true; break; }
      inner = inner.parentElement;
    }
    if (scrolled && !/(absolute|fixed)/.test(getComputedStyle(el).position)) continue;
    const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
      (el.classList.length ? "." + Array.from(el.classList).join(".") : "");
    culprits.push(name + " (right edge " + Math.round(box.right) + ")");
    if (culprits.length >= 4) break;
  }
  return "the document is " + doc.scrollWidth + " px wide in a " + width + " px window: " + culprits.join(", ");
}"""


@dataclass(frozen=True)
class SitePage:
    name: str  # a file-name-safe name, unique per role ("events", "event", "finance-margin")
    path: str  # the path and query on the portal


@dataclass
class Visit:
    """What one page showed in one window: the problems found, as sentences."""

    page: SitePage
    width: int
    problems: list[str] = field(default_factory=list)


def sign_in(page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    if "/accounts/login/" in page.url:
        said = page.locator("main").inner_text()[:300]
        raise AssertionError(f"{username} could not sign in: {page.url}: {said}")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "page"


def _links(page, selector: str) -> list[tuple[str, str]]:
    return page.eval_on_selector_all(
        selector, "els => els.map(e => [e.textContent.replace(/\\s+/g, ' ').trim(), e.getAttribute('href')])"
    )


def _first_href(page, pattern: str) -> str | None:
    """The first link in <main> whose path matches the regular expression."""
    regex = re.compile(pattern)
    for _, href in _links(page, "main a[href]"):
        path = urlsplit(href).path
        if regex.search(path):
            return href
    return None


def site_map(page, base: str, role: str) -> list[SitePage]:
    """The pages a role reaches: its navigation, the sections' navigation and a few detail pages."""
    found: dict[str, SitePage] = {}

    def add(name: str, href: str | None) -> None:
        if not href or href.startswith(("#", "mailto:")) or any(href.startswith(p) for p in NOT_PORTAL):
            return
        path = href.removeprefix(base)
        if any(p.path == path for p in found.values()):
            return
        slug, n = _slug(name), 2
        while slug in found:
            slug, n = f"{_slug(name)}-{n}", n + 1
        found[slug] = SitePage(slug, path)

    def read_nav(start: str) -> None:
        page.goto(f"{base}{start}")
        for text, href in _links(page, "header nav a[href], header .usermenu a[href]"):
            add(text, href)

    read_nav("/")
    if role in VENDOR_ROLES:
        read_nav(f"/account/{ACCOUNT}/")  # the account pages appear once an account is in view

    # Sections with navigation of their own (Finance).
    for section in [p for p in found.values() if p.name == "finance"]:
        page.goto(f"{base}{section.path}")
        for text, href in _links(page, "main nav.finance-sections a[href]"):
            add(f"finance {text}", href)

    # Detail pages, reached from their lists.
    lists = {p.name: p.path for p in found.values()}
    details = [
        ("events", "event", r"/events/[^/?]+$"),
        ("invoices", "invoice", r"/invoices/\d+/$"),
        ("dispute-queue", "dispute", r"/disputes/\d+/$"),
        ("disputes", "dispute", r"/disputes/\d+/$"),
        ("catalogue", "outcome-type", r"^/catalogue/types/[\w-]+/$"),
        ("receivables", "invoice", r"/invoices/\d+/$"),
    ]
    for list_name, name, pattern in details:
        if list_name not in lists or name in found:
            continue
        # The event page worth reading explains a refusal: open a non-billable event.
        query = "?status=non_billable" if list_name == "events" else ""
        page.goto(f"{base}{lists[list_name]}{query}")
        add(name, _first_href(page, pattern))
        if name == "invoice" and name in found:
            page.goto(f"{base}{found['invoice'].path}")
            add("invoice-line", _first_href(page, r"/invoices/\d+/lines/"))
    return list(found.values())


class Watcher:
    """Console errors, uncaught exceptions and failed requests of a page, since the last take()."""

    def __init__(self, page, base: str) -> None:
        self.base = base
        self.items: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.items.append(f"uncaught error: {error}"))
        page.on("response", self._response)
        page.on("requestfailed", self._failed)

    def _console(self, message) -> None:
        if message.type == "error":
            self.items.append(f"console error: {message.text}")

    def _response(self, response) -> None:
        if response.status >= 400:
            self.items.append(f"HTTP {response.status} for {response.url.removeprefix(self.base)}")

    def _failed(self, request) -> None:
        failure = request.failure or ""
        if "ERR_ABORTED" in failure:  # a navigation or download cut short by the next one
            return
        self.items.append(f"request failed: {request.url.removeprefix(self.base)} ({failure})")

    def take(self) -> list[str]:
        items, self.items = self.items, []
        return items


def raw_text(page, tolerated: set[str] = frozenset()) -> list[str]:
    """Codes and unformatted figures in the page's visible text, each once (``tolerated``: tokens,
    or whole kinds of RAW_TEXT, that this page may still show)."""
    found: dict[str, None] = {}
    for text in page.evaluate(_VISIBLE_TEXT):
        text = _EXEMPT.sub(" ", text)
        for what, pattern in RAW_TEXT.items():
            if what in tolerated:
                continue
            for match in pattern.finditer(text):
                if match.group(0) not in tolerated:
                    found[f"{what}: “{match.group(0)}” in “{text[:90]}”"] = None
    return list(found)


def overflow(page) -> str | None:
    return page.evaluate(_OVERFLOW)


# In a narrow window axe-core runs only the rules a layout can break (the rest read the same markup
# and were run in the wide window): a third of the time.
NARROW_RULES = ["scrollable-region-focusable", "meta-viewport", "target-size"]


def axe_violations(page, axe, rules: list[str] | None = None) -> list[str]:
    """axe-core's serious and critical violations, one line each (``rules``: only those)."""
    options: dict = {"resultTypes": ["violations"]}
    if rules:
        options["runOnly"] = {"type": "rule", "values": rules}
    results = axe.run(page, options=options).response
    lines = []
    for violation in results["violations"]:
        if violation["impact"] not in ("serious", "critical"):
            continue
        targets = ", ".join(str(node["target"][0]) for node in violation["nodes"][:3])
        lines.append(f"axe {violation['impact']} {violation['id']} ({violation['help']}): {targets}")
    return lines


def open_page(page, base: str, site_page: SitePage) -> int:
    """Go to the page and wait until it has settled (charts drawn); its HTTP status."""
    response = page.goto(f"{base}{site_page.path}")
    page.wait_for_load_state("load")
    if page.locator(".chart").count():
        page.wait_for_function(
            "() => Array.from(document.querySelectorAll('.chart')).every(c => c.classList.contains('drawn'))",
            timeout=10_000,
        )
    return response.status if response else 0


def check(
    page, base: str, site_page: SitePage, watcher: Watcher, axe, *, wide: bool = True, full: bool = True
) -> list[str]:
    """Open the page in the window as it is sized and list what is wrong with it: its status, console
    errors and failed requests, a document wider than the window, axe-core's serious and critical
    violations and, in the ``wide`` window, raw codes and unformatted numbers in what it says (the
    words do not change with the width; in a narrow one axe runs only NARROW_RULES). Not ``full``: the
    same page was checked in full for another role of the same side, and only its status, console,
    requests and width are checked again."""
    watcher.take()
    problems = []
    try:
        status = open_page(page, base, site_page)
    except Exception as error:  # a chart that never draws, a page that never loads
        problems.append(f"did not settle: {str(error).splitlines()[0]}")
        status = 0
    if status >= 400:
        problems.append(f"HTTP {status}")
    problems += watcher.take()
    if status >= 400:
        return problems  # the rest would describe an error page
    if too_wide := overflow(page):
        problems.append(too_wide)
    if not full:
        return problems
    problems += axe_violations(page, axe, None if wide else NARROW_RULES)
    if wide:
        problems += raw_text(page, KNOWN_RAW.get(site_page.name, set()))
    return problems


def photograph(page, base: str, site_page: SitePage, path) -> None:
    """A full-page screenshot of the page as the window is sized."""
    open_page(page, base, site_page)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)


def open_menu(page, name: str) -> None:
    """Open a menu of the top bar ("Money", "Setup", "Settings"; "you" for the user's own menu)."""
    if name == "you":
        page.locator("header details.usermenu > summary").click()
    else:
        page.locator("header details.navmenu > summary", has_text=name).click()
