"""Sphinx extension for the HTML book: it works offline, from a USB stick.

* MathJax, RequireJS and the Jupyter widget manager come from the npm registry at build
  time, pinned and checked by sha256, and are served from the book's own ``_static/vendor/``
  (``mathjax_path`` and ``nb_ipywidgets_js`` in _config.yml point there). The tarballs are
  kept in ``$VQLAB_DATA/npm`` so a rebuild downloads nothing.
* The live widgets of chapters 8 and 9 (``vqlab.web``) get their runtime and the exported
  MNIST decoders in ``_static/live/``.
* A page that shows no widget loads no widget manager: the chapters show the live widgets
  below instead of the Python widgets' dead state (their outputs are removed in the book).
* Every script a page loads is listed once (jupyter-book registers sphinx-thebe's inline
  configuration twice, and ``const THEBE_JS_URL`` declared twice is a JavaScript error), and
  the theme's colour mode is "auto" instead of empty (a console error on every page).
* A cell's printed lines show in one box (myst-nb gives each flushed chunk its own).
* The bibliography's labels read like the author-year citations (style ``vqlab_author_year``,
  chosen by ``bibtex_default_style`` in _config.yml).

Both folders are written to ``_build/web_static`` and added to ``html_static_path``.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tarfile
import urllib.request
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"

# name -> (version, sha256 of the registry's tarball, [(member prefix in the tarball, folder in vendor/)])
PACKAGES = {
    "mathjax": (
        "3.2.2",
        "1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09",
        [
            ("package/es5/tex-mml-chtml.js", "mathjax/tex-mml-chtml.js"),
            ("package/es5/input/", "mathjax/input/"),
            ("package/es5/output/chtml/", "mathjax/output/chtml/"),
            ("package/es5/ui/", "mathjax/ui/"),
            ("package/es5/a11y/", "mathjax/a11y/"),
            ("package/es5/adaptors/", "mathjax/adaptors/"),
            ("package/LICENSE", "mathjax/LICENSE"),
        ],
    ),
    "requirejs": (
        "2.3.8",
        "777158e89275e16bd51aec3ef714fbcb5dc45789e7078659933bc814916d7dec",
        [
            ("package/require.js", "require.js"),
        ],
    ),
    "@jupyter-widgets/html-manager": (
        "1.0.15",
        "2b9d65cb7913e1c7d671757a10008b32c9c2448d4429513371e55c07d6107638",
        [
            ("package/dist/embed-amd.js", "html-manager/embed-amd.js"),
            (
                "package/dist/",
                "html-manager/",
            ),  # the fonts and styles embed-amd.js loads beside itself
            ("package/LICENSE", "html-manager/LICENSE"),
        ],
    ),
}
SKIP_SUFFIXES = (".map", ".d.ts", "libembed-amd.js", "embed.js")
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def cache_dir() -> Path:
    return Path(os.environ.get("VQLAB_DATA", Path.home() / ".cache" / "vqlab")) / "npm"


def tarball(name: str, version: str, sha256: str) -> bytes:
    """The package's registry tarball, from the cache or downloaded; raises if its sha256 differs."""
    base = name.split("/")[-1]
    path = cache_dir() / f"{base}-{version}.tgz"
    if path.exists():
        data = path.read_bytes()
    else:
        url = f"{REGISTRY}/{name}/-/{base}-{version}.tgz"
        with urllib.request.urlopen(url, timeout=120) as r:
            data = r.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        path.unlink(missing_ok=True)
        raise RuntimeError(
            f"{name}@{version}: sha256 {digest}, expected {sha256}; "
            f"delete {path} and rebuild, or check the pin in tools/book_web.py"
        )
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    return data


def vendor(dest: Path) -> list[Path]:
    """Write the pinned files of every package under ``dest``; return the files written."""
    written = []
    for name, (version, sha256, members) in PACKAGES.items():
        with tarfile.open(
            fileobj=io.BytesIO(tarball(name, version, sha256)), mode="r:gz"
        ) as tar:
            for info in tar.getmembers():
                if not info.isfile() or info.name.endswith(SKIP_SUFFIXES):
                    continue
                for prefix, target in members:
                    if info.name == prefix or (
                        prefix.endswith("/") and info.name.startswith(prefix)
                    ):
                        out = dest / (
                            target + info.name[len(prefix) :]
                            if prefix.endswith("/")
                            else target
                        )
                        out.parent.mkdir(parents=True, exist_ok=True)
                        out.write_bytes(tar.extractfile(info).read())
                        written.append(out)
                        break
    return written


def static_root(outdir) -> Path:
    """Beside the HTML output (``_build/html`` -> ``_build/web_static``)."""
    return Path(outdir).parent / "web_static"


def live_inputs_digest() -> str:
    """sha256 over what the live widgets' files are made from: their code and the weights."""
    import vqlab

    pkg = Path(vqlab.__file__).parent
    h = hashlib.sha256()
    for path in [
        pkg / "web.py",
        pkg / "widgets.py",
        pkg / "plots.py",
        *sorted((pkg / "weights").glob("vqvae_mnist.*")),
        *sorted((pkg / "weights").glob("vae_convdense_bce.*")),
    ]:
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


def on_builder_inited(app):
    if app.builder.format != "html":
        return
    root = static_root(app.outdir)
    if (root / "vendor").exists():
        shutil.rmtree(root / "vendor")
    vendor(root / "vendor")
    live, digest = root / "live", live_inputs_digest()
    stamp = root.with_name(
        "web_static_live.sha256"
    )  # outside the folder the book copies
    if not (
        stamp.exists() and stamp.read_text() == digest
    ):  # a rebuild skips the export (~30 s)
        if live.exists():
            shutil.rmtree(live)
        from vqlab import web  # imported here: loading the models needs TensorFlow

        web.write_live(live)
        stamp.write_text(digest)
    app.config.html_static_path.append(str(root))


def dedupe_scripts(app, pagename, templatename, context, doctree):
    """Drop repeated script tags (same file or same inline body, same attributes) and, on a
    page that shows no widget, the widget state and manager; name the theme's colour mode
    (pydata-sphinx-theme logs an error on every page where it is empty)."""
    context["default_mode"] = context.get("default_mode") or "auto"
    scripts, seen = context.get("script_files"), set()
    if not scripts:
        return
    if WIDGET_VIEW not in context.get("body", ""):
        # no widget is shown (the chapters remove the dead Python widgets' outputs): no widget
        # state and no widget manager to load, which would fetch the widgets' modules
        widget_js = set(app.config.nb_ipywidgets_js) | {
            f"_static/{f}" for f in app.config.nb_ipywidgets_js
        }
        scripts[:] = [
            js
            for js in scripts
            if getattr(js, "filename", None) not in widget_js
            and getattr(js, "attributes", {}).get("type") != WIDGET_STATE
        ]
    kept = []
    for js in scripts:
        attrs = getattr(js, "attributes", {})
        # an inline script's filename is None or "" depending on how it was added
        key = (
            str(getattr(js, "filename", js) or ""),
            tuple(sorted((k, str(v)) for k, v in attrs.items())),
        )
        if key not in seen:
            seen.add(key)
            kept.append(js)
    scripts[:] = kept  # in place: the builder renders this same list


def author_year_style():
    """A pybtex style whose labels read as the author-year citations do ("Kingma and
    Welling, 2013", "van den Oord et al., 2017"), sorted by author, year and title."""
    from pybtex.style.formatting.unsrt import Style
    from pybtex.style.labels import BaseLabelStyle

    def surname(person):
        return " ".join(
            n.render_as("text")
            for n in person.rich_prelast_names + person.rich_last_names
        )

    class AuthorYearLabels(BaseLabelStyle):
        def format_labels(self, sorted_entries):
            labels = []
            for entry in sorted_entries:
                people = (
                    entry.persons.get("author") or entry.persons.get("editor") or []
                )
                names = [surname(p) for p in people]
                who = (
                    names[0]
                    if len(names) == 1
                    else f"{names[0]} and {names[1]}"
                    if len(names) == 2
                    else f"{names[0]} et al."
                    if names
                    else entry.fields.get("organization", entry.key)
                )
                labels.append(f"{who}, {entry.fields.get('year', 'n.d.')}")
            for i, label in enumerate(
                labels
            ):  # the same author and year twice: 2017a, 2017b
                if labels.count(label) > 1:
                    yield label + "abcdefghijklmnopqrstuvwxyz"[labels[:i].count(label)]
                else:
                    yield label

    class AuthorYearStyle(Style):
        default_label_style = AuthorYearLabels
        default_sorting_style = "author_year_title"

    return AuthorYearStyle


def merge_streams(app, doctree, docname):
    """Show a cell's printed text in one box: consecutive stdout (or stderr) outputs, split
    wherever the kernel happened to flush, become one block (one box, one scrollbar). The
    executed notebooks nbval reads keep their outputs as they were."""
    from docutils import nodes

    def stream(node):
        return isinstance(node, nodes.literal_block) and "stream" in node.get(
            "classes", []
        )

    for parent in list(doctree.findall(nodes.Element)):
        i = 0
        while i < len(parent.children) - 1:
            a, b = parent[i], parent[i + 1]
            if stream(a) and stream(b) and a["classes"] == b["classes"]:
                text = a.astext()
                text += ("" if text.endswith("\n") else "\n") + b.astext()
                a[:] = [nodes.Text(text)]
                a.rawsource = text
                del parent[i + 1]
            else:
                i += 1


def setup(app):
    from pybtex.plugin import register_plugin

    register_plugin("pybtex.style.formatting", "vqlab_author_year", author_year_style())
    app.connect("builder-inited", on_builder_inited)
    app.connect("doctree-resolved", merge_streams)
    app.connect(
        "html-page-context", dedupe_scripts, priority=900
    )  # after the handlers that add scripts
    return {"parallel_read_safe": True, "parallel_write_safe": True}
