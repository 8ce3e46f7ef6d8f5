"""Citation identifiers of the evidence data set (``doi:``, ``pmid:``, ``nct:``, ``url:``,
joined by ``; ``) as links."""

from __future__ import annotations

__all__ = ["citation_links"]

_PREFIX = {
    "doi:": "https://doi.org/",
    "pmid:": "https://pubmed.ncbi.nlm.nih.gov/",
    "nct:": "https://clinicaltrials.gov/study/",
    "url:": "",
}


def citation_links(text: str | None) -> list[dict[str, str]]:
    """``[{"text": "doi:10.1/x", "url": "https://doi.org/10.1/x"}, ...]`` (unknown: no url)."""
    out: list[dict[str, str]] = []
    for part in (text or "").split(";"):
        ident = part.strip()
        if not ident:
            continue
        for prefix, base in _PREFIX.items():
            if ident.startswith(prefix):
                rest = ident[len(prefix):]
                label = rest if prefix == "url:" else ident
                out.append({"text": label, "url": base + rest})
                break
        else:
            out.append({"text": ident, "url": ""})
    return out
