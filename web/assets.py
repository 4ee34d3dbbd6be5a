"""The browser files Inkwell vendors from the npm registry, and the URLs it serves them at."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
VENDOR_DIR = STATIC_DIR / "vendor"
STATIC_URL = "/static"
CDN = "https://unpkg.com"
# Beside each vendored file, its gzip copy, served to browsers that accept gzip
# (web/routes.py): GraphiQL's script is 3.5 MB, 0.7 MB gzipped, and compressing it for
# each request would cost 270 ms of CPU.
GZIP_SUFFIX = ".gz"


@dataclass(frozen=True)
class Package:
    """One npm package, laid out under `static/vendor/<name>@<version>/` as unpkg lays it out."""

    name: str
    version: str
    files: tuple[str, ...]
    # sha384 SRI values for files that strawberry's GraphiQL template does not pin.
    integrity: dict[str, str] = field(default_factory=dict)
    # Where the text of `LICENSE` comes from: (npm spec, path in that package). Empty means
    # the package's own LICENSE file.
    licence_sources: tuple[tuple[str, str], ...] = ()

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    def cdn_url(self, file: str) -> str:
        return f"{CDN}/{self.spec}/{file}"

    def url(self, file: str) -> str:
        return f"{STATIC_URL}/vendor/{self.spec}/{file}"

    def relative(self, file: str) -> Path:
        """Where `file` lives under the vendor folder; "LICENSE" is the package's licence."""
        return Path(self.spec, file)

    def path(self, file: str) -> Path:
        return VENDOR_DIR / self.relative(file)

    def compressed(self, file: str) -> Path:
        """Where the gzip copy of `file` lives under the vendor folder."""
        return Path(self.spec, file + GZIP_SUFFIX)

    def licences(self) -> tuple[tuple[str, str], ...]:
        return self.licence_sources or ((self.spec, "LICENSE"),)


# Exactly what strawberry-graphql 0.341.2's GraphiQL page loads from unpkg.
PLAYGROUND = (
    Package("react", "18.2.0", ("umd/react.production.min.js",)),
    Package("react-dom", "18.2.0", ("umd/react-dom.production.min.js",)),
    Package("js-cookie", "3.0.5", ("dist/js.cookie.min.js",)),
    Package("graphiql", "3.8.3", ("graphiql.min.js", "graphiql.min.css")),
    Package(
        "@graphiql/plugin-explorer",
        "1.0.2",
        ("dist/index.umd.js", "dist/style.css"),
        # The package ships no licence file. Its package.json says MIT and its source lives
        # in the graphiql monorepo, whose MIT licence graphiql itself ships; its UMD build
        # bundles graphiql-explorer, MIT as well.
        licence_sources=(("graphiql@3.8.3", "LICENSE"), ("graphiql-explorer@0.9.0", "LICENSE")),
    ),
)

# The live page's WebSocket client: a UMD build that defines the global `graphqlWs`.
GRAPHQL_WS = Package(
    "graphql-ws",
    "6.4.2",
    ("umd/graphql-ws.min.js",),
    integrity={
        "umd/graphql-ws.min.js": (
            "sha384-mxvR4Mzbsb6QVx/9xI2gtQikQA6m8zMDBFnu3l//4/ROsWt7y2sUGWd+/tYQqDm7"
        )
    },
    licence_sources=(("graphql-ws@6.4.2", "LICENSE.md"),),
)

PACKAGES = (*PLAYGROUND, GRAPHQL_WS)
