# The HTML report, checked in a real headless browser: Debian's chromium loads the file
# offline (file://, no network resolver), dumps the DOM it built and takes a screenshot;
# the test asserts on what a reader sees (endpoint names, finding titles, matrix cells) and
# that the page asks for nothing outside itself. The scan is of a real `openssl s_server`
# on 127.0.0.1, next to an unreachable endpoint written by hand.
#
# chromium is installed on first use (apt-get, as root) when missing; the tests are skipped,
# saying why, only when that install fails.
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from handshakes.constants import TLS10, TLS12
from scanner import compare
from scanner.api import scan_endpoint
from scanner.options import ScanOptions, Target
from scanner.profiles import load_builtin_profiles
from scanner.report.html import render_diff_html, render_scan_html
from scanner.results import endpoint_json

_CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Belt and braces for "offline": no host name resolves.
    "--host-resolver-rules=MAP * ~NOTFOUND",
)


@pytest.fixture(scope="session")
def chromium() -> str:
    """The chromium binary; installed with apt-get when missing (CI runs as root)."""
    found = shutil.which("chromium")
    if found:
        return found
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        pytest.skip(
            "chromium is not installed and cannot be installed here (needs root and apt-get)"
        )
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        try:
            proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
        except (OSError, subprocess.TimeoutExpired) as exc:
            pytest.skip(f"installing chromium failed: {' '.join(argv)}: {exc}")
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            pytest.skip(
                f"installing chromium failed: {' '.join(argv)} exited {proc.returncode}: {' / '.join(tail)}"
            )
    found = shutil.which("chromium")
    if not found:
        pytest.skip("apt-get install chromium succeeded but no chromium binary is on PATH")
    return found


def _browse(chromium: str, page: Path, tmp_path: Path, screenshot: Path | None = None) -> str:
    """The DOM chromium built from `page` (and a screenshot of it, when asked)."""
    profile = tmp_path / "chromium-profile"
    base = [chromium, *_CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
    url = page.resolve().as_uri()
    dom = subprocess.run(
        [*base, "--dump-dom", url], capture_output=True, text=True, timeout=60, check=False
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    if screenshot is not None:
        shot = subprocess.run(
            [*base, "--window-size=1280,1800", f"--screenshot={screenshot}", url],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert shot.returncode == 0, shot.stderr[-2000:]
    return dom.stdout


class _Dom(HTMLParser):
    """What the page shows: the text, the matrix (rows of (client, [(class, text, title)])),
    and every element with a src/href."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.matrix: list[tuple[str, list[tuple[str, str, str]]]] = []
        self.links: list[tuple[str, str, str]] = []
        self.elements: set[str] = set()
        self._in_matrix = self._in_body = False
        self._cell: tuple[str, str, str] | None = None
        self._row_head: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k: v or "" for k, v in attrs}
        self.elements.add(tag)
        for name in ("src", "href", "srcset", "action", "data"):
            if name in attr:
                self.links.append((tag, name, attr[name]))
        if tag == "table" and "matrix" in attr.get("class", "").split():
            self._in_matrix = True
        elif self._in_matrix and tag == "tr":
            self._row_head = None
        elif self._in_matrix and tag == "tbody":
            self._in_body = True
        elif self._in_body and tag == "th" and "client" in attr.get("class", ""):
            self._row_head = ""
        elif self._in_matrix and tag == "td":
            self._cell = (attr.get("class", ""), "", attr.get("title", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._in_matrix = self._in_body = False
        elif self._in_matrix and tag == "td" and self._cell is not None:
            cls, text, title = self._cell
            self.matrix[-1][1].append((cls, text.strip(), title))
            self._cell = None
        elif self._in_matrix and tag == "th" and self._row_head is not None:
            self.matrix.append((self._row_head.strip(), []))
            self._row_head = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            cls, text, title = self._cell
            self._cell = (cls, text + data, title)
        elif self._row_head is not None:
            self._row_head += data


def _parse(dom: str) -> _Dom:
    parser = _Dom()
    parser.feed(dom)
    parser.close()
    return parser


def _no_external_resources(page: str) -> None:
    """Nothing the browser would fetch: no src/srcset, no stylesheet or icon links, no CSS
    url()/@import, no script, and a CSP that forbids them anyway."""
    assert not re.search(r"""\b(src|srcset)\s*=""", page, re.I)
    assert not re.search(r"""<link\b""", page, re.I)
    assert not re.search(r"""<script\b""", page, re.I)
    assert not re.search(r"""url\s*\(|@import""", page, re.I)
    for href in re.findall(r"""\bhref\s*=\s*["']?([^"' >]+)""", page, re.I):
        assert not re.match(r"https?://", href) or re.search(
            rf"<a\b[^>]*href=[\"']?{re.escape(href)}", page
        )
    assert "default-src 'none'" in page


_UNREACHABLE = {
    "host": "down.example.test",
    "port": 8443,
    "ip": "192.0.2.7",
    "sni": "down.example.test",
    "outcome": "refused",
    "detail": "connection refused",
    "protocols": [],
    "cipher_suites": [],
    "groups": [],
    "certificates": [],
    "findings": [
        {
            "id": "connect.refused",
            "severity": "high",
            "title": "Nothing accepts <connections> on the port",
            "evidence": "TCP connect to 192.0.2.7:8443 was refused",
            "cause": "No service listens there, or a firewall rejects the connection.",
            "resolution": "Start the service or open the port <script>alert(1)</script>.",
            "windows_error": None,
        }
    ],
}


@pytest.fixture
async def scanned(openssl_server: Any, lab_pki: Any) -> list[dict[str, Any]]:
    """A TLS 1.0-1.2 server (so a deprecated-protocol finding) scanned for real, and the
    hand-written unreachable endpoint."""
    server = openssl_server(min_version=TLS10, max_version=TLS12, seclevel=0)
    options = ScanOptions(ca_file=str(lab_pki.ca_path), use_system_store=False)
    result = await scan_endpoint(
        Target(host="localhost", port=server.port, ip="127.0.0.1"), options
    )
    assert result.outcome == "ok", result.detail
    return [json.loads(json.dumps(endpoint_json(result))), _UNREACHABLE]


async def test_scan_report_in_a_browser(
    chromium: str, scanned: list[dict[str, Any]], tmp_path: Path
) -> None:
    profiles = compare.select_profiles("default")
    page = render_scan_html(scanned, profiles=profiles, source="scan.json")
    _no_external_resources(page)
    path = tmp_path / "report.html"
    path.write_text(page, encoding="utf-8")
    screenshot = tmp_path / "report.png"
    dom = _parse(_browse(chromium, path, tmp_path, screenshot))
    text = " ".join(" ".join(dom.text).split())

    live = scanned[0]
    live_label = compare.endpoint_label(live)
    assert live_label.startswith("localhost:")
    assert live_label in text and "down.example.test:8443" in text
    # Finding titles, the severities, and the escaped text shown as text.
    for finding in live["findings"]:
        assert finding["title"] in text
    assert "A deprecated protocol version is accepted" in text
    assert "Nothing accepts <connections> on the port" in text
    assert "<script>alert(1)</script>" in text and "script" not in dom.elements
    assert "Resolution:" in text and "Evidence:" in text

    # The matrix: one row per profile, one cell per endpoint, as the browser shows them.
    assert [name for name, _ in dom.matrix] == [p.name for p in profiles]
    cells = {name: row for name, row in dom.matrix}
    assert all(len(row) == 2 for row in cells.values())
    chrome = cells["Chrome 101 (Win 10)"][0]
    assert chrome[0] == "cell-ok" and chrome[1] == "✓ TLSv1.2"
    assert "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" in chrome[2]  # the tooltip names the suite
    ie6 = cells["IE 6 XP"][0]
    assert ie6[0] == "cell-fail" and ie6[1] == "✗ no common version"
    assert ie6[2].startswith("no common protocol version")
    assert cells["Java 7u25"][0][1] == "✓ TLSv1.0"
    down = cells["Chrome 101 (Win 10)"][1]
    assert down[0] == "cell-fail" and down[1] == "✗ unreachable" and "refused" in down[2]
    assert "Why clients fail" in text
    assert "Every client → down.example.test:8443 (192.0.2.7): the scan did not reach TLS: refused" in text

    assert not [link for link in dom.links if link[1] != "href"]
    assert screenshot.stat().st_size > 20_000
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


async def test_diff_report_in_a_browser(
    chromium: str, scanned: list[dict[str, Any]], tmp_path: Path
) -> None:
    before = scanned[0]
    # The same endpoint with TLS 1.0 switched off, as a later scan would see it.
    after = json.loads(json.dumps(before))
    after["protocols"] = [p for p in after["protocols"] if p["version"] != "TLSv1.0"]
    after["cipher_suites"] = [s for s in after["cipher_suites"] if s["version"] != "TLSv1.0"]
    diff = compare.diff_scans([before], [after], profiles=load_builtin_profiles())
    page = render_diff_html(diff)
    _no_external_resources(page)
    path = tmp_path / "diff.html"
    path.write_text(page, encoding="utf-8")
    dom = _parse(_browse(chromium, path, tmp_path, tmp_path / "diff.png"))
    text = " ".join(" ".join(dom.text).split())

    assert "TLS change report" in text
    assert "Protocols disabled TLSv1.0" in text
    cells = {name: row[0] for name, row in dom.matrix}
    assert cells["Java 7u25"][0] == "cell-lost"
    assert cells["Java 7u25"][1] == "▼ lost: no common version"
    assert cells["Chrome 101 (Win 10)"][:2] == ("cell-ok", "✓ TLSv1.2")
    lost = {c.name for c in diff.endpoints[0].clients_in("lost")}
    assert {"Java 7u25", "IE 8 Win 7"} <= lost
    for name in lost:
        assert name in text  # every lost client is listed, in or out of the matrix
