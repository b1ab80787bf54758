"""One real service and one headless Chromium per test module, driven by Playwright.

The browser is Debian's ``chromium`` at /usr/bin/chromium (``scripts/test.sh``
installs it when missing); Playwright never downloads its own. Without it the
browser tests are skipped with a loud reason.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from support.packages import SAMPLES, build_sample, make_key
from support.serving import World, served

from wfhost import Host
from wfpkg.build import build_package

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
# Set WFHOST_DOCS_SCREENSHOTS=1 to refresh the screenshots committed under docs/images/.
DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
DOCS_SHOTS = {"list", "execution", "execution-approved", "overview"}

# HTML and script that must stay text wherever the dashboard shows it.
XSS = '<img id="xss-img" src="x" onerror="window.__xss=1"><script id="xss-script">window.__xss=1</script>'


def hostile_package(key: Any, dest: Path) -> Path:
    """data_processing 2.0.0 whose workflow description is ``XSS``, built and signed for real."""
    src = dest / "src" / "data_processing"
    shutil.copytree(SAMPLES / "data_processing", src, ignore=shutil.ignore_patterns("dist", "build", "*.egg-info"))
    pyproject = src / "pyproject.toml"
    pyproject.write_text(re.sub(r'(?m)^version = ".*"', 'version = "2.0.0"', pyproject.read_text()))
    module = src / "data_processing" / "workflows.py"
    module.write_text(module.read_text().replace('description="collect -> process -> report"',
                                                 f"description={XSS!r}"))
    return build_package(src, key.private, dest / "dist")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("dashboard")
    key = make_key(tmp, "ci")
    archives = {name: build_sample(name, key, tmp / "dist") for name in ("purchase_approval", "data_processing")}
    archives["hostile"] = hostile_package(key, tmp / "hostile")
    with ExitStack() as stack:
        host = stack.enter_context(Host(home=tmp / "home", load_timeout=30))
        srv = stack.enter_context(served(host))
        yield World(srv, srv.admin_token(), key, archives)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip("BROWSER TESTS SKIPPED: /usr/bin/chromium is missing (scripts/test.sh installs it as root: "
                    "apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def shots(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """``shots(page, name)`` saves a screenshot as a test artifact (and in docs/images/ if asked)."""
    folder = tmp_path_factory.getbasetemp() / "screenshots"
    folder.mkdir(exist_ok=True)

    def take(page: Any, name: str) -> Path:
        path = folder / f"{request.node.name}-{name}.png"
        page.screenshot(path=str(path), full_page=False)
        if os.environ.get("WFHOST_DOCS_SCREENSHOTS") == "1" and name in DOCS_SHOTS:
            DOCS_IMAGES.mkdir(exist_ok=True)
            shutil.copy2(path, DOCS_IMAGES / f"dashboard-{name}.png")
        return path

    return take
