"""Language identification, used to warn about non-Indonesian articles and to label HTML sources."""

from __future__ import annotations

from dataclasses import dataclass

# py3langid often labels Indonesian news as Malay: for this tool the two count as one.
_INDONESIAN = {"id", "ms"}
_NAMES = {
    "en": "English", "ru": "Russian", "uk": "Ukrainian", "de": "German", "fr": "French", "es": "Spanish",
    "pt": "Portuguese", "nl": "Dutch", "it": "Italian", "tl": "Tagalog", "jv": "Javanese", "vi": "Vietnamese",
    "th": "Thai", "zh": "Chinese", "ja": "Japanese", "ko": "Korean", "ar": "Arabic", "tr": "Turkish",
}  # fmt: skip
SURE = 0.5
"""Below this probability a guess is too weak to name the article's language."""


@dataclass(frozen=True)
class Guess:
    lang: str
    confidence: float


class LanguageDetector:
    """py3langid's naive Bayes model, optionally restricted to a set of languages."""

    def __init__(self, candidates: tuple[str, ...] | None = None) -> None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        self._identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        if candidates:
            self._identifier.set_languages(list(candidates))

    def detect(self, text: str) -> Guess:
        lang, prob = self._identifier.classify(text[:20000])
        return Guess(lang=str(lang), confidence=float(prob))


def is_indonesian(guess: Guess) -> bool:
    return guess.lang in _INDONESIAN


def not_indonesian_warning(guess: Guess) -> str:
    """What to tell the user about a non-Indonesian article: its language when the guess is sure,
    else only that it does not read as Indonesian (a list of names or numbers gets odd guesses)."""
    if guess.confidence < SURE:
        return "the article does not read as Indonesian; matches may be poor"
    name = _NAMES.get(guess.lang)
    lang = f"{name} ({guess.lang})" if name else repr(guess.lang)
    return f"the article looks like {lang}, not Indonesian; matches may be poor"
