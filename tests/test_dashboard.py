"""The published dashboard renders its graphs in a real browser with no internet access."""

import functools
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARK = "bench_pool.PoolStart.time_start_compute_close"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1000",
    "--virtual-time-budget=15000",
]


@pytest.fixture(scope="module")
def chromium():
    path = shutil.which("chromium")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: `make test` installs Debian's chromium package")
        pytest.skip("chromium is not installed (Debian package chromium)")
    return path


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory):
    """A dashboard published from a quick run of a few benchmarks on the current commit."""
    folder = tmp_path_factory.mktemp("asv")
    config = json.loads(_strip_comments((ROOT / "asv.conf.json").read_text()))
    config.update(
        repo=str(ROOT),
        benchmark_dir=str(ROOT / "benchmarks"),
        env_dir=str(folder / "env"),
        results_dir=str(folder / "results"),
        html_dir=str(folder / "html"),
    )
    config_path = folder / "asv.conf.json"
    config_path.write_text(json.dumps(config))
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True)

    def asv(*arguments):
        subprocess.run(
            [sys.executable, "-m", "asv", *arguments, "--config", str(config_path)],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )

    subprocess.run([sys.executable, "-m", "asv", "machine", "--yes"], check=True, capture_output=True)
    benchmarks = ["PoolStart", r"Dot.time_dot\('square_64', 1"]
    asv("run", "--python=same", "--quick", *(f"--bench={b}" for b in benchmarks), "--set-commit-hash", head.stdout.strip())
    asv("publish")
    tools = ROOT / "tools"
    subprocess.run([sys.executable, tools / "report.py", "--results", folder / "results", folder / "html"], check=True)
    subprocess.run([sys.executable, tools / "offline_dashboard.py", folder / "html"], check=True)
    return folder / "html"


@pytest.fixture(scope="module")
def served(dashboard):
    """The dashboard's address on loopback."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(dashboard))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def _strip_comments(text):
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//"))


def render(chromium, url, tmp_path, *extra):
    completed = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *extra, url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    return completed.stdout


def test_no_page_loads_anything_from_the_network(dashboard):
    for page in dashboard.glob("*.html"):
        assert "https://cdn" not in page.read_text() and "code.jquery.com" not in page.read_text()


def test_benchmark_graph_renders_offline(chromium, served, tmp_path):
    dom = render(chromium, f"{served}#{BENCHMARK}", tmp_path, "--dump-dom")
    assert "failed to load" not in dom
    assert 'class="flot-base"' in dom  # flot drew the graph's canvas
    screenshot = ROOT / ".asv" / "dashboard-screenshot.png"
    screenshot.parent.mkdir(exist_ok=True)
    render(chromium, f"{served}#{BENCHMARK}", tmp_path, f"--screenshot={screenshot}")
    assert screenshot.stat().st_size > 10_000


@pytest.mark.parametrize(
    "page, drawn",
    [
        ("", "benchmark-container"),  # the grid: one summary per benchmark
        (f"#{BENCHMARK}", 'class="flot-base"'),  # a graph
        ("#/regressions", 'class="feed-div"'),  # the Regressions page, its feed link drawn from regressions.json
        ("report/index.html", '<img src="gflops-float64.png"'),  # tools/report.py's pictures
    ],
)
def test_each_page_renders_opened_as_a_file_with_no_server(chromium, dashboard, tmp_path, page, drawn):
    url = (dashboard / "index.html").as_uri() + page if not page.endswith(".html") else (dashboard / page).as_uri()
    dom = render(chromium, url, tmp_path, "--dump-dom")
    assert "Error fetching content" not in dom and "failed to load" not in dom
    assert drawn in dom
    screenshot = ROOT / ".asv" / f"dashboard-file-{re.sub(r'[^A-Za-z]+', '-', page.split('(')[0]).strip('-') or 'grid'}.png"
    render(chromium, url, tmp_path, f"--screenshot={screenshot}")
    assert screenshot.stat().st_size > 10_000


def test_commit_links_lead_to_commit_pages(dashboard):
    index = json.loads((dashboard / "index.json").read_text())
    for commit in index["revision_to_hash"].values():
        assert "Author:" in (dashboard / "commits" / commit / "index.html").read_text()


def test_pictures_are_linked_from_the_dashboard_and_render_offline(chromium, served, dashboard, tmp_path):
    assert 'href="report/index.html"' in (dashboard / "index.html").read_text()
    pictures = sorted((dashboard / "report").glob("*.png"))
    assert [p.name for p in pictures] == [
        "gflops-float32.png", "gflops-float64.png", "speedup-float32.png", "speedup-float64.png"
    ]
    screenshot = ROOT / ".asv" / "pictures-screenshot.png"
    render(chromium, f"{served}report/index.html", tmp_path, f"--screenshot={screenshot}")
    assert screenshot.stat().st_size > 10_000
