"""Language identification, used to warn about non-Indonesian articles and to label HTML sources."""

from __future__ import annotations

from dataclasses import dataclass

# py3langid often labels Indonesian news as Malay: for this tool the two count as one.
_INDONESIAN = {"id", "ms"}


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
