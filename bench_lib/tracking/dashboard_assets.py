"""Make the asv dashboard work without a network.

`asv publish` writes pages that load jQuery, flot, bootstrap and a few plugins from public CDNs;
with no network (a GPU box in a locked-down cluster, CI here) the dashboard shows only asv's
"enable 3rd-party scripts" page. This fetches the same library versions once from the npm
registry (`npm pack`, cached), copies them into html/vendor/ and points the pages at those copies.

    python -m bench_lib.tracking.dashboard_assets html/       (make bench runs it after asv publish)
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

# CDN URL asv's pages use → (npm package@version, file inside the package). The versions are asv's
# own, except stupidtable: its CDN 1.0.1 is not on npm, 1.1.3 is the same plugin API.
ASSETS = {
    "https://code.jquery.com/jquery-3.3.1.min.js": ("jquery@3.3.1", "dist/jquery.min.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.min.js": ("flot@0.8.3", "jquery.flot.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.time.min.js": ("flot@0.8.3", "jquery.flot.time.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.selection.min.js":
        ("flot@0.8.3", "jquery.flot.selection.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.categories.min.js":
        ("flot@0.8.3", "jquery.flot.categories.js"),
    "https://cdn.jsdelivr.net/npm/flot-orderbars@1.0.0/js/jquery.flot.orderBars.js":
        ("flot-orderbars@1.0.0", "js/jquery.flot.orderBars.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/stupidtable/1.0.1/stupidtable.min.js":
        ("stupid-table-plugin@1.1.3", "stupidtable.min.js"),
    "https://cdnjs.cloudflare.com/ajax/libs/blueimp-md5/2.19.0/js/md5.min.js": ("blueimp-md5@2.19.0", "js/md5.min.js"),
    "https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/js/bootstrap.min.js": ("bootstrap@3.1.1", "dist/js/bootstrap.min.js"),
    "https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/css/bootstrap.min.css": ("bootstrap@3.1.1", "dist/css/bootstrap.min.css"),
}
# bootstrap.min.css refers to ../fonts/ next to it.
EXTRA = {"bootstrap@3.1.1": ["dist/fonts/"]}


class AssetError(RuntimeError):
    pass


def cache_dir() -> Path:
    return Path(os.environ.get("LLM_BENCH_ASSET_CACHE", Path.home() / ".cache" / "llm-bench" / "npm"))


def _tarball(package: str, cache: Path) -> Path:
    name, version = package.rsplit("@", 1)
    path = cache / f"{name}-{version}.tgz"
    if not path.exists():
        if not shutil.which("npm"):
            raise AssetError(f"npm is needed once to fetch {package} for the offline dashboard "
                             f"(apt-get install npm), or put {path.name} in {cache}")
        cache.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["npm", "pack", package, "--pack-destination", str(cache)],
                              capture_output=True, text=True, timeout=300)
        if done.returncode or not path.exists():
            raise AssetError(f"npm pack {package} failed: {done.stderr.strip()[-500:]}")
    return path


def vendor(html_dir: Path, cache: Path | None = None) -> dict[str, str]:
    """Copy the libraries into html_dir/vendor; return {CDN URL: local relative path}."""
    cache = cache or cache_dir()
    local = {}
    packages = {pkg for pkg, _ in ASSETS.values()}
    for pkg in sorted(packages):
        wanted = [f for p, f in ASSETS.values() if p == pkg] + EXTRA.get(pkg, [])
        with tarfile.open(_tarball(pkg, cache)) as tar:
            for member in tar.getmembers():
                rel = member.name.removeprefix("package/")
                if member.isfile() and any(rel == w or (w.endswith("/") and rel.startswith(w)) for w in wanted):
                    out = html_dir / "vendor" / pkg / rel
                    out.parent.mkdir(parents=True, exist_ok=True)
                    out.write_bytes(tar.extractfile(member).read())
    for url, (pkg, rel) in ASSETS.items():
        local[url] = f"vendor/{pkg}/{rel}"
        if not (html_dir / local[url]).exists():
            raise AssetError(f"{pkg} has no {rel}")
    return local


def localize(html_dir: Path | str, cache: Path | None = None) -> int:
    """Rewrite every published page to load the vendored copies; returns the number of pages changed."""
    html_dir = Path(html_dir)
    if not (html_dir / "index.html").exists():
        raise AssetError(f"{html_dir} has no index.html: run `asv publish` first")
    local = vendor(html_dir, cache)
    changed = 0
    for page in html_dir.glob("*.html"):
        text = original = page.read_text(encoding="utf-8")
        for url, path in local.items():
            # The copies are the same libraries but not byte-identical to the CDN's minified files,
            # so the tag's subresource-integrity hash must go with the URL.
            pattern = re.compile(r'(<(?:script|link)\b[^>]*?)(?:src|href)="' + re.escape(url) + r'"([^>]*>)')
            attr = "href" if url.endswith(".css") else "src"

            def swap(m, path=path, attr=attr):
                tag = m.group(1) + f'{attr}="{path}"' + m.group(2)
                return re.sub(r'\s(?:integrity|crossorigin|referrerpolicy)="[^"]*"', "", tag)

            text = pattern.sub(swap, text)
        if text != original:
            page.write_text(text, encoding="utf-8")
            changed += 1
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html_dir", type=Path, nargs="?", default=Path("html"))
    args = parser.parse_args(argv)
    try:
        n = localize(args.html_dir)
    except AssetError as exc:
        print(f"dashboard assets: {exc}; the dashboard still works where the CDNs are reachable", file=sys.stderr)
        return 1
    print(f"dashboard assets: {n} page(s) in {args.html_dir} now load vendored libraries")
    return 0


if __name__ == "__main__":
    sys.exit(main())
