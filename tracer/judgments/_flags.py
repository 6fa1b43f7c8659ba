"""What changed in translation: numbers, names, negation, hedges, quotations and dates compared
between an Indonesian sentence and its original (English, Russian or Ukrainian).

Precision comes first: a flag must point at a real difference. So each check compares only
what it can read on both sides (number words and numerals in four languages; names only
inside a multi-word name anchored by a part that matches exactly; dates as day + month,
weekday or year), and stays silent when one side merely says less.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from tracer.judgments._credits import attributed
from tracer.judgments._translit import has_cyrillic, same_name, similarity, skeleton, to_latin

NAME_SIMILARITY = 0.75
"""A name part this similar to, but not the same as, its counterpart is a changed name."""
SURNAME_SIMILARITY = 0.5
"""The same for a surname that follows a matching given name (the full name anchors it)."""


@dataclass(frozen=True)
class Flag:
    kind: str
    """number | name | negation | hedge | quote | date"""
    article: str
    source: str
    note: str


# -- numbers ------------------------------------------------------------------------------------

_WORDS = {
    "id": {"dua": 2, "tiga": 3, "empat": 4, "lima": 5, "enam": 6, "tujuh": 7, "delapan": 8, "sembilan": 9,
           "sepuluh": 10, "sebelas": 11, "seratus": 100, "seribu": 1000, "sejuta": 1_000_000},
    "en": {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
           "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
           "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
           "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100, "dozen": 12},
    "ru": {"два": 2, "две": 2, "двух": 2, "три": 3, "трех": 3, "трёх": 3, "четыре": 4, "четырех": 4, "пять": 5,
           "пяти": 5, "шесть": 6, "шести": 6, "семь": 7, "семи": 7, "восемь": 8, "восьми": 8, "девять": 9,
           "девяти": 9, "десять": 10, "десяти": 10, "одиннадцать": 11, "двенадцать": 12, "двадцать": 20,
           "двадцати": 20, "тридцать": 30, "сорок": 40, "пятьдесят": 50, "сто": 100},
    "uk": {"два": 2, "дві": 2, "двох": 2, "три": 3, "трьох": 3, "чотири": 4, "п'ять": 5, "п’ять": 5, "шість": 6,
           "шести": 6, "сім": 7, "семи": 7, "вісім": 8, "дев'ять": 9, "дев’ять": 9, "десять": 10, "десяти": 10,
           "одинадцять": 11, "дванадцять": 12, "двадцять": 20, "тридцять": 30, "сорок": 40, "п'ятдесят": 50,
           "сто": 100},
}  # fmt: skip
_ID_TEENS = re.compile(r"\b(dua|tiga|empat|lima|enam|tujuh|delapan|sembilan)\s+(belas|puluh)(?:\s+(satu|dua|tiga|empat|lima|enam|tujuh|delapan|sembilan))?\b", re.I)  # fmt: skip
_EN_COMPOUND = re.compile(r"\b(twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)-(two|three|four|five|six|seven|eight|nine)\b", re.I)  # fmt: skip
_MULTIPLIERS = {
    "id": {"ribu": 1e3, "juta": 1e6, "miliar": 1e9, "triliun": 1e12},
    "en": {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12, "bn": 1e9, "m": 1e6},
    "ru": {"тыс": 1e3, "тысяч": 1e3, "тысячи": 1e3, "тысяча": 1e3, "млн": 1e6, "миллион": 1e6, "миллиона": 1e6,
           "миллионов": 1e6, "млрд": 1e9, "миллиард": 1e9, "миллиарда": 1e9, "миллиардов": 1e9},
    "uk": {"тис": 1e3, "тисяч": 1e3, "тисячі": 1e3, "тисяча": 1e3, "млн": 1e6, "мільйон": 1e6, "мільйони": 1e6,
           "мільйонів": 1e6, "млрд": 1e9, "мільярд": 1e9, "мільярди": 1e9, "мільярдів": 1e9},
}  # fmt: skip
# Qualifiers right before a number: "about" (an estimate), "over" (a floor), "under" (a ceiling).
_QUALIFIERS = {
    "id": {"about": ["sekitar", "kira-kira", "kurang lebih", "lebih kurang", "sekira", "sebanyak sekitar"],
           "over": ["lebih dari", "setidaknya", "sedikitnya", "paling sedikit", "minimal", "di atas"],
           "under": ["kurang dari", "hampir", "nyaris", "maksimal", "tidak sampai", "hingga mencapai"]},
    "en": {"about": ["about", "around", "approximately", "roughly", "some", "an estimated", "estimated"],
           "over": ["more than", "over", "at least", "upwards of", "in excess of", "no fewer than", "no less than"],
           "under": ["less than", "fewer than", "under", "almost", "nearly", "up to", "at most"]},
    "ru": {"about": ["около", "примерно", "приблизительно", "порядка", "почти около"],
           "over": ["более", "больше", "свыше", "не менее", "по меньшей мере", "как минимум", "минимум", "более чем"],
           "under": ["менее", "меньше", "почти", "не более", "максимум"]},
    "uk": {"about": ["близько", "приблизно", "орієнтовно", "майже близько"],
           "over": ["понад", "більше", "більш ніж", "щонайменше", "принаймні", "не менше", "як мінімум"],
           "under": ["менше", "майже", "не більше", "максимум"]},
}  # fmt: skip
_GLOSS = {
    "sekitar": "about", "kira-kira": "about", "kurang lebih": "about", "lebih kurang": "about", "sekira": "about",
    "sebanyak sekitar": "about", "lebih dari": "more than", "setidaknya": "at least", "sedikitnya": "at least",
    "paling sedikit": "at least", "minimal": "at least", "di atas": "above", "kurang dari": "less than",
    "hampir": "almost", "nyaris": "almost", "maksimal": "at most", "tidak sampai": "under",
    "hingga mencapai": "up to",
}  # fmt: skip


@dataclass(frozen=True)
class _Number:
    value: float
    qualifier: str | None
    phrase: str | None
    start: int
    end: int
    """Span including the qualifier."""
    number_start: int


def _numeral_value(raw: str, lang: str) -> float | None:
    s = raw.replace("\u00a0", " ").replace("\u202f", " ")
    if lang in ("ru", "uk"):
        s = s.replace(" ", "")
        s = (
            s.replace(",", ".")
            if re.fullmatch(r"\d+,\d{1,2}", s) or not re.fullmatch(r"\d{1,3}(,\d{3})+", s)
            else s.replace(",", "")
        )
    elif lang == "id":
        s = s.replace(".", "").replace(",", ".") if re.fullmatch(r"\d{1,3}(\.\d{3})+(,\d+)?|\d+,\d+", s) else s
    else:
        s = s.replace(",", "") if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", s) else s
    try:
        return float(s)
    except ValueError:
        return None


_NUMERAL = re.compile(
    r"(?<![\w.,:])(?:\d{1,3}(?:[ \u00a0\u202f]\d{3})+|\d+(?:[.,]\d+)*)(?![\d:])(?P<suffix>[^\W\d_]{0,3})(?![\w])"
)
_MULTIPLIER_AFTER = re.compile(r"\s*([^\W\d_]+)\.?", re.UNICODE)
_SUFFIX_MULTIPLIER = {"bn": 1e9, "m": 1e6, "k": 1e3, "mn": 1e6, "tn": 1e12}
# Clock times are not quantities ("pukul 3 sore" is "15:00"): left out of the comparison.
_TIME = re.compile(
    r"\b\d{1,2}:\d{2}(?!\d)\s*(?:am|pm|a\.m\.|p\.m\.)?|\b\d{1,2}\.\d{2}(?!\d)\s*(?:am|pm|a\.m\.|p\.m\.)|"
    r"\b\d{1,2}\s*(?:am|pm|a\.m\.|p\.m\.)(?!\w)|"
    r"(?i:\b(?:pukul|jam)\s+\d{1,2}(?:[.:]\d{2}(?!\d))?(?:\s+(?:pagi|siang|sore|malam|WIB|WITA|WIT))?)|"
    r"\b\d{1,2}(?:[:.]\d{2}(?!\d))?\s+(?i:утра|вечера|дня|ночи|ранку|вечора|ночі|години|часов|часа)\b",
    re.IGNORECASE,
)


def _times_multiplier(text: str, end: int, value: float, lang: str) -> tuple[float, int]:
    """A number followed by "ribu" / "thousand" / "тысяч" / "млн": its value and span end."""
    after = _MULTIPLIER_AFTER.match(text, end)
    if after and after.group(1).lower() in _MULTIPLIERS[lang]:
        return value * _MULTIPLIERS[lang][after.group(1).lower()], after.end()
    return value, end


def times(text: str) -> set[tuple[int, int]]:
    return {(m.start(), m.end()) for m in _TIME.finditer(text)}


def numbers(text: str, lang: str, skip: set[tuple[int, int]]) -> list[_Number]:
    """Numbers with their value (multipliers applied) and the qualifier before them."""
    found: list[tuple[int, int, float]] = []
    for m in _NUMERAL.finditer(text):
        if any(a <= m.start() < b for a, b in skip):
            continue
        suffix = m.group("suffix").lower()
        digits = m.group()[: len(m.group()) - len(suffix)] if suffix else m.group()
        value = _numeral_value(digits, lang)
        if value is None:
            continue
        end = m.end()
        if suffix:
            if suffix not in _SUFFIX_MULTIPLIER:
                continue  # "7am", "5km", "3rd": not a bare quantity
            value *= _SUFFIX_MULTIPLIER[suffix]
        if not suffix:
            value, end = _times_multiplier(text, end, value, lang)
        found.append((m.start(), end, value))
    words = _WORDS[lang]
    if lang == "id":
        for m in _ID_TEENS.finditer(text):
            unit, kind, extra = m.group(1).lower(), m.group(2).lower(), (m.group(3) or "").lower()
            base = _WORDS["id"][unit] + 10 if kind == "belas" else _WORDS["id"][unit] * 10 + _WORDS["id"].get(extra, 0)
            found.append((m.start(), m.end(), float(base)))
    if lang == "en":
        for m in _EN_COMPOUND.finditer(text):
            found.append(
                (m.start(), m.end(), float(_WORDS["en"][m.group(1).lower()] + _WORDS["en"][m.group(2).lower()]))
            )
    covered = [(a, b) for a, b, _ in found]
    for m in re.finditer(r"[^\W\d_]+(?:['’][^\W\d_]+)?", text):
        word = m.group().lower()
        if word in words and not any(a <= m.start() < b for a, b in covered):
            value, end = float(words[word]), m.end()
            value, end = _times_multiplier(text, end, value, lang)
            found.append((m.start(), end, value))
    out = []
    for start, end, value in sorted(found):
        qualifier, said, qstart = None, None, start
        before = text[max(0, start - 30) : start].lower()
        for name, phrases in _QUALIFIERS[lang].items():
            for phrase in phrases:
                longer = qualifier is None or len(phrase) > start - qstart
                if longer and re.search(rf"(?:^|[^\w]){re.escape(phrase)}\s*$", before):
                    qualifier, said, qstart = name, phrase, start - len(before) + before.rfind(phrase)
        out.append(_Number(value, qualifier, said, qstart, end, start))
    return out


_NUMERIC_DATE = re.compile(r"\b\d{1,2}/\d{1,2}(?:/\d{2,4})?\b")
_DESIGNATOR = re.compile(r"(?<![\w-])([A-ZА-ЯЁІЇЄҐ][^\W\d_]{0,5})-(\d{1,4})(?![\w-])")
"""A model or type ("AN-24", "Су-27", "COVID-19"): a name, compared as one (``_compare_designators``);
"ke-25" (the 25th) is an ordinal, not one."""


def designators(text: str, lang: str) -> dict[str, dict[str, tuple[int, int]]]:
    """Designators by their letters' skeleton ("AN" and "Ан" are one), each number with its span."""
    out: dict[str, dict[str, tuple[int, int]]] = {}
    for m in _DESIGNATOR.finditer(text):
        out.setdefault(skeleton(m.group(1), lang), {}).setdefault(m.group(2), m.span())
    return out


def _not_quantities(text: str, found: _Dates) -> set[tuple[int, int]]:
    """Spans of what only looks like a quantity: clock times, dates and designators."""
    skip = times(text) | found.spans() | {m.span() for m in _DESIGNATOR.finditer(text)}
    return skip | {m.span() for m in _NUMERIC_DATE.finditer(text)}


def quantities(text: str, lang: str) -> frozenset[float]:
    """The values of the quantities a text states (numerals and number words), leaving out what
    only looks like one: clock times, dates ("12 мая", "Kamis (24/7/2025)", years) and
    designators ("AN-24", "Су-27")."""
    return frozenset(n.value for n in numbers(text, lang, _not_quantities(text, dates(text, lang))))


def _compare_designators(article: str, source: str, lang: str) -> Iterator[Flag]:
    theirs = designators(source, lang)
    for letters, numbers_a in designators(article, "id").items():
        numbers_s = theirs.get(letters)
        if numbers_s and not set(numbers_a) & set(numbers_s):
            (a0, a1), (s0, s1) = next(iter(numbers_a.values())), next(iter(numbers_s.values()))
            yield Flag("number", article[a0:a1], source[s0:s1],
                       f"designator changed: '{source[s0:s1]}' in the original, '{article[a0:a1]}' in the article")  # fmt: skip


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,}"


def _compare_numbers(article: str, source: str, lang: str, skip_a: set, skip_s: set) -> Iterator[Flag]:
    a_nums, s_nums = numbers(article, "id", skip_a), numbers(source, lang, skip_s)
    unpaired_s = list(s_nums)
    unpaired_a = []
    for a in a_nums:
        match = next((s for s in unpaired_s if abs(s.value - a.value) < 1e-9), None)
        if match is None:
            unpaired_a.append(a)
            continue
        unpaired_s.remove(match)
        if a.qualifier == match.qualifier:
            continue
        a_text, s_text = article[a.start : a.end], source[match.start : match.end]
        if a.qualifier and match.qualifier:
            yield Flag("number", a_text, s_text, f"'{s_text}' in the original became '{a_text}' "
                       f"({_GLOSS.get(a.phrase or '', a.qualifier)} {_fmt(a.value)})")  # fmt: skip
        elif match.qualifier:
            yield Flag("hedge", a_text, s_text, f"'{s_text}' in the original became '{a_text}': "
                       f"the qualifier '{match.phrase}' is gone")  # fmt: skip
        else:
            yield Flag("hedge", a_text, s_text, f"'{s_text}' in the original became '{a_text}' "
                       f"({_GLOSS.get(a.phrase or '', a.qualifier)} {_fmt(a.value)})")  # fmt: skip
    for a, s in zip(unpaired_a, unpaired_s, strict=False):
        yield Flag("number", article[a.start : a.end], source[s.start : s.end],
                   f"number changed: {_fmt(s.value)} in the original, {_fmt(a.value)} in the article")  # fmt: skip


# -- dates -----------------------------------------------------------------------------------------

_MONTHS = {
    "id": ["januari", "februari", "maret", "april", "mei", "juni", "juli", "agustus", "september", "oktober",
           "november", "desember"],
    "en": ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december"],
    "ru": ["январ", "феврал", "март", "апрел", "ма[йя]", "июн", "июл", "август", "сентябр", "октябр", "ноябр",
           "декабр"],
    "uk": ["січ", "лют", "берез", "квіт", "трав", "черв", "лип", "серп", "верес", "жовт", "листопад", "груд"],
}  # fmt: skip
_EN_SHORT = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sept?", "oct", "nov", "dec"]
_WEEKDAYS = {
    "id": ["senin", "selasa", "rabu", "kamis", "jumat", "sabtu", "minggu"],
    "en": ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"],
    "ru": ["понедельник", "вторник", "сред[ау]", "четверг", "пятниц[ауы]", "суббот[ауы]", "воскресень[ея]"],
    "uk": ["понеділ(?:ок|ка)", "вівтор(?:ок|ка)", "серед[ау]", "четвер", "п['’]ятниц[яюі]", "субот[аиу]",
           "неділ[яюі]"],
}  # fmt: skip


def _month_pattern(lang: str) -> list[re.Pattern[str]]:
    pats = []
    for i, stem in enumerate(_MONTHS[lang]):
        alts = stem if lang in ("ru", "uk") else rf"{stem}|{_EN_SHORT[i]}\.?" if lang == "en" else stem
        suffix = r"[^\W\d_]*" if lang in ("ru", "uk") else ""
        pats.append(re.compile(rf"\b(?:{alts}){suffix}\b", re.IGNORECASE))
    return pats


@dataclass(frozen=True)
class _Dates:
    day_months: dict[tuple[int, int], tuple[int, int]]
    months: dict[int, tuple[int, int]]
    weekdays: dict[int, tuple[int, int]]
    years: dict[int, tuple[int, int]]

    def spans(self) -> set[tuple[int, int]]:
        return {*self.day_months.values(), *self.years.values()}


_ID_NUMERIC_DATE = re.compile(r"\((\d{1,2})/(\d{1,2})(?:/(?:\d{4}|\d{2}))?\)")


def dates(text: str, lang: str) -> _Dates:
    day_months: dict[tuple[int, int], tuple[int, int]] = {}
    months: dict[int, tuple[int, int]] = {}
    for month, pattern in enumerate(_month_pattern(lang), start=1):
        for m in pattern.finditer(text):
            if (
                lang == "en"
                and m.group().lower() == "may"
                and not re.search(r"\d", text[max(0, m.start() - 4) : m.end() + 4])
            ):
                continue  # "may" the verb
            months.setdefault(month, (m.start(), m.end()))
            before = re.search(r"(\d{1,2})(?:-?(?:го|е|st|nd|rd|th))?\s+$", text[max(0, m.start() - 8) : m.start()])
            after = re.match(r"\.?\s+(\d{1,2})(?:st|nd|rd|th)?\b(?!\d)", text[m.end() : m.end() + 7])
            if before:
                start = m.start() - len(before.group(0))
                day_months[(month, int(before.group(1)))] = (start, m.end())
            elif after and lang == "en":
                day_months[(month, int(after.group(1)))] = (m.start(), m.end() + after.end())
    if lang == "id":  # "Kamis (24/7/2025)", "Minggu (12/5)": how Indonesian news dates an event
        for m in _ID_NUMERIC_DATE.finditer(text):
            day, month = int(m.group(1)), int(m.group(2))
            if 1 <= day <= 31 and 1 <= month <= 12:
                day_months.setdefault((month, day), m.span())
                months.setdefault(month, m.span())
    weekdays: dict[int, tuple[int, int]] = {}
    for day, stem in enumerate(_WEEKDAYS[lang]):
        flags = 0 if lang == "id" else re.IGNORECASE  # "minggu" is also "week": only the capitalized day
        stem_text = stem.capitalize() if lang == "id" else stem
        for m in re.finditer(rf"\b{stem_text}\b", text, flags):
            weekdays.setdefault(day, (m.start(), m.end()))
    years = {
        int(m.group()): (m.start(), m.end())
        for m in re.finditer(r"(?<![\d.,])(?:19[0-9]{2}|20[0-9]{2})(?![\d.,]\d)", text)
    }
    return _Dates(day_months, months, weekdays, years)


def _compare_dates(article: str, source: str, lang: str, da: _Dates, ds: _Dates) -> Iterator[Flag]:
    for name, a_map, s_map in (("day", da.day_months, ds.day_months), ("weekday", da.weekdays, ds.weekdays),
                               ("year", da.years, ds.years)):  # fmt: skip
        if a_map and s_map and not set(a_map) & set(s_map):
            (a0, a1), (s0, s1) = next(iter(a_map.values())), next(iter(s_map.values()))
            yield Flag("date", article[a0:a1], source[s0:s1], f"{name} differs: '{source[s0:s1]}' in the original, "
                       f"'{article[a0:a1]}' in the article")  # fmt: skip
            return
    if da.months and ds.months and not da.day_months and not ds.day_months and not set(da.months) & set(ds.months):
        (a0, a1), (s0, s1) = next(iter(da.months.values())), next(iter(ds.months.values()))
        yield Flag("date", article[a0:a1], source[s0:s1], f"month differs: '{source[s0:s1]}' / '{article[a0:a1]}'")


# -- negation, hedges, quotes -------------------------------------------------------------------------

_NEGATION = {
    "id": r"tidak(?:lah)?|tak|bukan(?:lah|nya)?|belum(?:lah)?|jangan(?:lah)?",
    "en": r"not|no|never|cannot|nobody|nothing|neither|nor|\w+n['’]t",
    "ru": r"не|нет|никогда|ничего|никто|ни",
    "uk": r"не|ні|немає|нема|ніколи|нічого|ніхто",
}
# Negation carried by an affix or a negative word ("unknown", "неизвестен", "tanpa", "gagal"):
# never flagged itself, but its presence means the other side's "not" is translated, not added.
_WEAK_NEGATION = {
    "id": r"tanpa|gagal|menolak|membantah|enggan|kurang|minim|non-?\w+|nir\w+|tiada|takkan",
    "en": r"without|fail\w*|refus\w+|den(?:y|ies|ied)|declin\w+|lack\w*|(?:un|in|im|il|ir|non|dis)\w{3,}|\w+less|"
          r"little|few|absent|stopped|ceased|hardly|scarcely|barely|seldom|rarely|ill|less|ignorant|shortly",
    "ru": r"не\w+|без\w*|ни\w+|отказ\w+|отрица\w+|опроверг\w+|перест\w+|прекрат\w+|мало|нехват\w+",
    "uk": r"не\w+|без\w*|ні\w+|відмов\w+|запереч\w+|спростов\w+|спростув\w+|перест\w+|припин\w+|мало|брак\w*",
}  # fmt: skip
_HEDGES = {
    "id": r"mungkin|kemungkinan|diduga|dikabarkan|kabarnya|konon|diperkirakan|tampaknya|sepertinya|disebut-sebut|"
          r"diyakini|barangkali|agaknya",
    "en": r"(?-i:may)|might|possibly|possible|probably|likely|unlikely|reportedly|allegedly|apparently|believed|"
          r"suspected|presumably|perhaps|expected|forecast|estimated|predicted",
    "ru": r"возможно|вероятно|якобы|предположительно|по-видимому|видимо|ожидается|по прогнозам|по оценкам",
    "uk": r"можливо|ймовірно|імовірно|нібито|мабуть|вочевидь|очікується|за прогнозами|за оцінками",
}  # fmt: skip
# Modal verbs hedge or not depending on context ("could seek" / "mungkin"): never flagged
# themselves, but they make the other side's hedge a translation rather than an addition.
_WEAK_HEDGES = {
    "id": r"bisa|dapat|boleh|akan|harus|sebaiknya|memungkinkan",
    "en": r"could|can|may|would|should|will|expect\w*|seems?|appears?",
    "ru": r"может|могут|можно|мог\w*|должн\w+|будет|будут|ожида\w+",
    "uk": r"може|можуть|можна|міг|могл\w+|повин\w+|буде|будуть|очіку\w+",
}  # fmt: skip
_QUOTES = re.compile(r"[\"“”«»„‘’]")
_QUOTED_SPEECH = re.compile(r"[\"“«„]([^\"“”«»„]{12,})[\"”»“]")


def _quoted_speech(text: str) -> re.Match[str] | None:
    """A quotation of at least four words: «Челси» or «Спасем детей» are names, not speech."""
    for m in _QUOTED_SPEECH.finditer(text):
        if len(m.group(1).split()) >= 4:
            return m
    return None


def _word_hits(pattern: str, text: str) -> list[re.Match[str]]:
    return list(re.finditer(rf"(?<![\w-])(?:{pattern})(?![\w-])", text, re.IGNORECASE))


def _one_sided(kind: str, lex: dict[str, str], article: str, source: str, lang: str, note: str,
               weak: dict[str, str] | None = None) -> Iterator[Flag]:  # fmt: skip
    a_hits, s_hits = _word_hits(lex["id"], article), _word_hits(lex[lang], source)
    other_way = weak is not None and (  # the other side may say it another way
        (a_hits and not s_hits and _word_hits(weak[lang], source))
        or (s_hits and not a_hits and _word_hits(weak["id"], article))
    )
    if other_way:
        return
    if a_hits and not s_hits:
        yield Flag(kind, a_hits[0].group(), "", f"'{a_hits[0].group()}' in the article; the original {note}")
    elif s_hits and not a_hits:
        yield Flag(kind, "", s_hits[0].group(), f"'{s_hits[0].group()}' in the original; the article {note}")


# -- names -------------------------------------------------------------------------------------------

# Capitalized words that are not personal names and translate between languages (Ukraina /
# Ukraine / Україна): compared as names they would look like misspellings.
_NOT_NAMES = {
    "presiden", "president", "menteri", "minister", "kepala", "head", "chief", "juru", "bicara", "jenderal",
    "general", "direktorat", "directorate", "intelijen", "intelligence", "utama", "main", "pertahanan", "defence",
    "defense", "luar", "negeri", "foreign", "dalam", "ukraina", "ukraine", "ukrainian", "rusia", "russia", "russian",
    "korea", "korean", "utara", "north", "selatan", "south", "amerika", "america", "american", "serikat", "united",
    "states", "inggris", "britain", "british", "china", "chinese", "jepang", "japan", "japanese", "eropa", "europe",
    "european", "barat", "west", "western", "timur", "east", "eastern", "jauh", "far", "kremlin", "gedung", "putih",
    "white", "house", "perdana", "prime", "wakil", "deputy", "vice", "sekretaris", "secretary", "kementerian",
    "ministry", "the", "para", "namun", "menurut", "kata", "republik", "republic", "federasi", "federation",
    "nato", "pbb", "un", "uni", "union", "dewan", "council", "keamanan", "security", "nasional", "national",
    "inspektur", "inspector", "detektif", "detective", "desainer", "designer", "designers", "grup", "group",
    "kapten", "captain", "pendeta", "reverend", "profesor", "professor", "dokter", "doctor", "senator", "gubernur",
    "governor", "walikota", "mayor", "kota", "city", "universitas", "university", "stadion", "stadium", "gereja",
    "church", "partai", "party", "klub", "club", "liga", "league", "piala", "cup", "pantai", "beach", "pulau",
    "island", "sungai", "river", "gunung", "mount", "provinsi", "province", "distrik", "district", "komite",
    "committee", "komisi", "commission", "parlemen", "parliament", "pengadilan", "court", "mahkamah", "agung",
    "supreme", "badai", "hurricane", "storm", "tim", "team", "bapak", "ibu", "bu", "pak", "tuan", "nyonya", "mr",
    "mrs", "ms", "dr", "sir", "lord", "raja", "king", "ratu", "queen", "pangeran", "prince", "putri", "princess",
}  # fmt: skip
# Cyrillic names are compared only in Slavic names (Кирило Буданов): Western names transcribed
# into Cyrillic (Майк Помпео, Макгрегор, Азар for Hazard) differ from their Latin originals by
# convention, not by mistake.
_SLAVIC_SURNAME = re.compile(
    r"(?:ов|ев|ёв|єв|ин|ын|ський|ский|цкий|цький|ська|ская|енко|ук|юк|чук|ич|вич|ова|ева|єва|іна|ина|ий|ій|ко)"
    r"(?:а|у|ым|им|ом|е|і|ого|ому|ой)?$",
    re.IGNORECASE,
)
_GIVEN = [
    "vladimir volodymyr", "aleksandr alexander oleksandr alexandr", "dmitry dmitri dmytro", "sergey sergei serhiy serhii",
    "andrey andrei andriy andrii", "nikolai nikolay mykola", "mikhail mykhailo", "alexei aleksey alexey oleksiy oleksii",
    "yevgeny evgeny yevhen", "kirill kyrylo", "pavel pavlo", "grigory hryhoriy hryhorii", "georgy heorhiy heorhii",
    "yuri yuriy yurii", "oleg oleh", "igor ihor", "anatoly anatoliy", "vitaly vitaliy vitalii", "valery valeriy",
    "konstantin kostiantyn kostyantyn", "yulia yuliia yuliya", "olga olha", "natalia nataliya", "tatiana tetiana",
    "elena olena", "irina iryna", "ekaterina yekaterina kateryna", "pyotr petr petro", "fyodor fedor fedir",
    "gennady hennadiy", "vasily vasiliy vasyl", "bogdan bohdan", "denis denys", "maxim maksim maksym",
    "valentin valentyn", "vyacheslav viacheslav", "mikhailo mykhaylo", "yevgenia yevheniia", "galina halyna",
]  # fmt: skip
_GIVEN_NAMES = {skeleton(n): k for k, group in enumerate(_GIVEN) for n in group.split()}
_CLITIC = re.compile(r"(?:-?(?:lah|nya|kah|pun)|['’]s)$", re.IGNORECASE)
_NAME_TOKEN = re.compile(r"[A-ZА-ЯЁІЇЄҐ][\w'’-]*")


def _one_given_name(a: str, s: str, lang: str) -> bool:
    """Alexei / Олексій: forms of one given name in two languages."""
    k = _GIVEN_NAMES.get(skeleton(a))
    return k is not None and k == _GIVEN_NAMES.get(skeleton(s, lang))


def _runs(text: str) -> list[list[tuple[str, int, int]]]:
    """Runs of adjacent capitalized words (multi-word names live in them)."""
    runs: list[list[tuple[str, int, int]]] = []
    current: list[tuple[str, int, int]] = []
    last_end = -10
    for m in re.finditer(r"[^\W\d_][\w'’-]*", text):
        if _NAME_TOKEN.fullmatch(m.group()):
            if current and text[last_end : m.start()].strip():
                runs.append(current)
                current = []
            word = _CLITIC.sub("", m.group()) if len(m.group()) > 5 else m.group()
            current.append((word, m.start(), m.start() + len(word)))
            last_end = m.end()
        else:
            if current:
                runs.append(current)
            current = []
            last_end = -10
    if current:
        runs.append(current)
    return runs


def _compare_names(article: str, source: str, lang: str) -> Iterator[Flag]:
    s_runs = _runs(source)
    seen: set[str] = set()
    for a_run in _runs(article):
        if len(a_run) < 2:
            continue
        for s_run in s_runs:
            anchors = [(i, j) for i, (a, _, _) in enumerate(a_run) for j, (s, _, _) in enumerate(s_run)
                       if a.lower() not in _NOT_NAMES and (same_name(a, s, lang) or _one_given_name(a, s, lang))]  # fmt: skip
            if not anchors:
                continue
            for i, j in anchors:
                given = _GIVEN_NAMES.get(skeleton(a_run[i][0])) is not None
                if has_cyrillic(s_run[j][0]) and not _SLAVIC_SURNAME.search(s_run[j][0]) and not given:
                    continue
                # the name part next to the anchor, on both sides; after a given name, the surname only
                for di, dj in ((1, 1),) if given else ((-1, -1), (1, 1)):
                    ai, sj = i + di, j + dj
                    if not (0 <= ai < len(a_run) and 0 <= sj < len(s_run)):
                        continue
                    a, a0, a1 = a_run[ai]
                    s, s0, s1 = s_run[sj]
                    if a.lower() in _NOT_NAMES or to_latin(s, lang).lower() in _NOT_NAMES or same_name(a, s, lang):
                        continue
                    if _GIVEN_NAMES.get(skeleton(a)) is not None and _GIVEN_NAMES.get(skeleton(a)) == _GIVEN_NAMES.get(
                        skeleton(s, lang)
                    ):
                        continue  # Vladimir / Володимир: the Russian and Ukrainian forms of one name
                    # next to a matching given name, the part is a surname: a surname spelled apart
                    # ("Alexei Kosh" for "Alexei Kushch") is a changed name, however far apart
                    surname = given and di == 1 and skeleton(a)[:1] == skeleton(s, lang)[:1]
                    bar = SURNAME_SIMILARITY if surname else NAME_SIMILARITY
                    if similarity(a, s, lang) >= bar and a not in seen:
                        seen.add(a)
                        shown = f"{s} ({to_latin(s, lang)})" if has_cyrillic(s) else s
                        yield Flag("name", article[min(a0, a_run[i][1]) : max(a1, a_run[i][2])],
                                   source[min(s0, s_run[j][1]) : max(s1, s_run[j][2])],
                                   f"name spelled differently: '{a}' in the article, '{shown}' in the original")  # fmt: skip


# -- all checks ----------------------------------------------------------------------------------------


def compare(article: str, source: str, lang: str) -> list[Flag]:
    """Flags for one Indonesian sentence against its original in ``lang`` (en, ru or uk)."""
    da, ds = dates(article, "id"), dates(source, lang)
    flags = list(_compare_dates(article, source, lang, da, ds))
    flags += _compare_numbers(article, source, lang, _not_quantities(article, da), _not_quantities(source, ds))
    flags += _compare_designators(article, source, lang)
    flags += _compare_names(article, source, lang)
    flags += _one_sided("negation", _NEGATION, article, source, lang, "has no negation", _WEAK_NEGATION)
    flags += _one_sided("hedge", _HEDGES, re.sub(r"(?i)\btidak mungkin\b", "", article), source, lang,
                        "states it without that hedge", _WEAK_HEDGES)  # fmt: skip
    quote = _quoted_speech(source)
    if quote and not _QUOTES.search(article) and not attributed(article):
        flags.append(Flag("quote", "", quote.group(),
                          "the original is a quotation; the article states it as fact, without attribution"))  # fmt: skip
    return flags
