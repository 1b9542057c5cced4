"""The console's message catalogue (messages.yaml: key → {en, zh}) and the choice of language:
``?lang=`` first, then the ``lt_lang`` cookie, then Accept-Language (RFC 9110 §12.5.4), else English."""

from __future__ import annotations

import functools
import importlib.resources

import yaml
from fastapi import Request

LANGUAGES = ("en", "zh")
LANG_COOKIE = "lt_lang"


@functools.cache
def catalogue() -> dict[str, dict[str, str]]:
    text = (importlib.resources.files("app.console") / "messages.yaml").read_text(encoding="utf-8")
    messages = yaml.safe_load(text)
    missing = [key for key, by_lang in messages.items() if set(by_lang) != set(LANGUAGES)]
    if missing:
        raise ValueError(f"messages.yaml: {', '.join(missing)} lack a language")
    return messages


def _accepted(header: str) -> str | None:
    ranked = []
    for part in header.split(","):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((quality, tag.strip().lower()[:2]))
    for quality, lang in sorted(ranked, reverse=True):
        if quality > 0 and lang in LANGUAGES:
            return lang
    return None


def language(request: Request) -> str:
    """``en`` or ``zh`` for this request."""
    for candidate in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if candidate in LANGUAGES:
            return candidate
    return _accepted(request.headers.get("accept-language", "")) or "en"


def translator(lang: str):
    """``t(key, **values)``: the message in ``lang`` with ``{name}`` placeholders filled; an unknown
    key is shown as itself so a missing message is visible rather than fatal."""
    messages = catalogue()

    def t(key: str, **values) -> str:
        text = messages.get(key, {}).get(lang, key)
        return text.format(**values) if values else text

    return t
