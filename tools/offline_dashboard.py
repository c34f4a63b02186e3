"""Make an `asv publish` dashboard work with no internet access and from a file, and give it commit pages.

asv 0.6's index.html loads jQuery, flot, Bootstrap and friends from CDNs; offline
it shows only "external dependencies failed to load". This fetches the same
packages from the npm registry (cached under .asv/npm), copies the files into the
dashboard and points the HTML at them. Opened as a file (a downloaded CI
artifact, a double-click), the pages could not fetch their JSON either: each
data file is also written as a script that tools/file_protocol.js loads there
instead. It also writes commits/<hash>/index.html for every benchmarked commit,
which asv.conf.json's show_commit_url links to, and links tools/report.py's
pictures from the navigation bar if they are there.

Usage: python tools/offline_dashboard.py [HTML_DIR]   (default: .asv/html)
"""

import html
import json
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

CDN_FILES = {
    "https://code.jquery.com/jquery-3.3.1.min.js": ("jquery@3.3.1", "dist/jquery.min.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.min.js": ("flot@0.8.3", "jquery.flot.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.time.min.js": ("flot@0.8.3", "jquery.flot.time.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.selection.min.js": ("flot@0.8.3", "jquery.flot.selection.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.categories.min.js": ("flot@0.8.3", "jquery.flot.categories.js"),
    "https://cdn.jsdelivr.net/npm/flot-orderbars@1.0.0/js/jquery.flot.orderBars.js": ("flot-orderbars@1.0.0", "js/jquery.flot.orderBars.js"),
    # stupidtable 1.0.1 was never published to npm; 1.1.3 has the same sortable-table API.
    "https://cdnjs.cloudflare.com/ajax/libs/stupidtable/1.0.1/stupidtable.min.js": ("stupid-table-plugin@1.1.3", "stupidtable.min.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/blueimp-md5/2.19.0/js/md5.min.js": ("blueimp-md5@2.19.0", "js/md5.min.js"),
    "https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/js/bootstrap.min.js": ("bootstrap@3.1.1", "dist/js/bootstrap.min.js"),
    "https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/css/bootstrap.min.css": ("bootstrap@3.1.1", "dist/css/bootstrap.min.css"),
}
# Folders a copied file refers to (bootstrap.min.css loads ../fonts/*).
COMPANION_FOLDERS = {"bootstrap@3.1.1": ["dist/fonts"]}

# A <script src=...> or <link href=...> tag loading something from the network.
EXTERNAL_TAG = re.compile(r"<(?:script|link)\b[^>]*?(?:src|href)=\"(https?://[^\"]+)\"[^>]*>")
CDN_ONLY_ATTRIBUTES = re.compile(r"\s(?:integrity|crossorigin|referrerpolicy)=\"[^\"]*\"")


def main(html_dir=".asv/html"):
    html_dir = Path(html_dir)
    cache = html_dir.parent / "npm"
    for page in sorted(html_dir.glob("*.html")):
        page.write_text(load_data_from_files(localise(page.read_text(), html_dir, cache), html_dir))
    write_data_scripts(html_dir)
    write_commit_pages(html_dir)
    if (html_dir / "report" / "index.html").exists():
        index = html_dir / "index.html"
        index.write_text(link_pictures(index.read_text()))
    print(f"Dashboard: {html_dir.resolve()}/index.html (open it as a file; no internet or server needed)")
    print(f"Or serve it: python -m http.server --bind 127.0.0.1 --directory {html_dir} 8080")


def link_pictures(page):
    """`page` with a "Pictures" entry after "Regressions" in its navigation bar (tools/report.py's pages)."""
    regressions = '<li id="nav-li-regressions"><a href="#/regressions">Regressions</a></li>'
    link = '<li id="nav-li-pictures"><a href="report/index.html">Pictures</a></li>'
    if link in page or regressions not in page:
        return page
    return page.replace(regressions, regressions + "\n\t" + link)


def localise(page, html_dir, cache):
    """`page` with every CDN file replaced by a local copy under html_dir/vendor."""

    def replace(tag):
        url = tag.group(1)
        if url not in CDN_FILES:
            raise SystemExit(f"unknown external file {url}: add it to CDN_FILES in {__file__}")
        package, path = CDN_FILES[url]
        local = Path("vendor") / package / path
        copy_from_package(package, [path, *COMPANION_FOLDERS.get(package, [])], html_dir / "vendor" / package, cache)
        return CDN_ONLY_ATTRIBUTES.sub("", tag.group(0).replace(url, local.as_posix()))

    return EXTERNAL_TAG.sub(replace, page)


def load_data_from_files(page, html_dir):
    """`page` with tools/file_protocol.js loaded right after jQuery, before asv's own scripts."""
    script = '<script type="text/javascript" src="file_protocol.js"></script>'
    jquery = re.search(r'<script[^>]*src="vendor/jquery@[^"]*"[^>]*></script>', page)
    if script in page or jquery is None:
        return page
    shutil.copyfile(Path(__file__).with_name("file_protocol.js"), html_dir / "file_protocol.js")
    return page[: jquery.end()] + "\n    " + script + page[jquery.end() :]


def write_data_scripts(html_dir):
    """X.json.js beside every X.json: a script handing the data to asvFileData, for pages opened as files."""
    for data in html_dir.rglob("*.json"):
        path = data.relative_to(html_dir).as_posix()
        script = data.with_name(data.name + ".js")
        script.write_text(f"asvFileData({json.dumps(path)}, {data.read_text()});\n")


def copy_from_package(package, paths, destination, cache):
    """Copy `paths` (files or folders) out of the npm tarball of `package`."""
    tarball = npm_pack(package, cache)
    with tarfile.open(tarball) as archive:
        for member in archive.getmembers():
            inside = member.name.removeprefix("package/")
            if member.isfile() and any(inside == p or inside.startswith(p + "/") for p in paths):
                target = destination / inside
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.extractfile(member) as source, open(target, "wb") as copy:
                    shutil.copyfileobj(source, copy)


def npm_pack(package, cache):
    """The tarball of `package` ("name@version") from the npm registry, downloaded once."""
    name, version = package.rsplit("@", 1)
    tarball = cache / f"{name}-{version}.tgz"
    if not tarball.exists():
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "pack", "--silent", "--pack-destination", str(cache), package],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return tarball


def write_commit_pages(html_dir):
    """commits/<hash>/index.html with `git show --stat` for each commit in the dashboard."""
    index = json.loads((html_dir / "index.json").read_text())
    for commit in set(index["revision_to_hash"].values()):
        shown = subprocess.run(
            ["git", "show", "--stat", "--format=fuller", commit],
            capture_output=True,
            text=True,
        )
        body = shown.stdout if shown.returncode == 0 else f"commit {commit} is not in this clone"
        page = html_dir / "commits" / commit / "index.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(
            f"<!DOCTYPE html><meta charset=utf-8><title>{commit[:8]}</title>"
            f"<p><a href=../../index.html>back to the dashboard</a></p><pre>{html.escape(body)}</pre>\n"
        )


if __name__ == "__main__":
    main(*sys.argv[1:])
