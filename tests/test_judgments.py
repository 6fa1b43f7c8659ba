"""Editor's judgments, table-driven: credit cues, outlet aliases, and what changed in translation
(numbers, names, negation, hedges, quotes, dates) across Indonesian and English/Russian/Ukrainian."""

from __future__ import annotations

import pytest

from tracer.judgments._credits import find_attribution
from tracer.judgments._flags import compare
from tracer.judgments._outlets import OutletTable


@pytest.mark.parametrize(
    ("sentence", "stated", "cue"),
    [
        ("Kremlin menyebut laporan itu palsu, seperti dilansir Russia Elium.", "Russia Elium", "outlet"),
        ("Kim berbicara di parlemen, dikutip dari Yonhap.", "Yonhap", "outlet"),
        ("Media Inggris The Guardian melaporkan 10.000 tentara telah tiba.", "The Guardian", "outlet"),
        ("Kantor berita Rusia TASS memberitakan dua orang tewas.", "TASS", "outlet"),
        ("Mengutip Reuters, harga minyak naik tajam pada Senin.", "Reuters", "outlet"),
        ("Harga minyak naik, seperti dilaporkan Bloomberg.", "Bloomberg", "outlet"),
        ("Menurut The Guardian, para tentara diberi seragam Rusia.", "The Guardian", "either"),
        ("Menurut Budanov, sekitar 11.000 tentara telah dipindahkan.", "Budanov", "either"),
        ('"Kami siap," kata Zelensky kepada wartawan.', "Zelensky", "speaker"),
        (
            '"Itu berita bohong," kata juru bicara Kremlin Dmitry Peskov kepada wartawan.',
            "juru bicara Kremlin Dmitry Peskov",
            "speaker",
        ),
        ("Harga naik, ujar dia kepada wartawan.", None, None),  # a pronoun credits nobody nameable
        ("Kremlin menyebut laporan media Barat tentang pengiriman tentara sebagai palsu.", None, None),
        ("Pasukan Ukraina menguasai sebagian wilayah Kursk sejak Agustus.", None, None),
    ],
)
def test_credit_cues(sentence: str, stated: str | None, cue: str | None) -> None:
    found = find_attribution(sentence)
    assert (found.stated, found.cue) == (stated, cue) if found else (stated, cue) == (None, None)


@pytest.mark.parametrize(
    ("written", "outlet"),
    [
        ("RIA Novosti", "RIA Novosti"),
        ("kantor berita RIA", "RIA Novosti"),
        ("РИА Новости", "RIA Novosti"),
        ("ТАСС", "TASS"),
        ("The Guardian", "The Guardian"),
        ("Guardian", "The Guardian"),
        ("Gaurdian", "The Guardian"),  # garbled: fuzzy
        ("Reuter", "Reuters"),
        ("Rusia Today", "RT"),
        ("Страна.ua", "Strana.ua"),
        ("Daily Expres", "Daily Express"),
        ("Yonhap News Agency", "Yonhap"),
        ("Russia Elium", None),  # too garbled to resolve honestly
        ("ABC News", "ABC News"),  # not BBC News, one letter away
        ("Abc Newz", "ABC News"),
        ("Al Jazira", "Al Jazeera"),
        ("Медуза", "Meduza"),
        ("Radio Svoboda", "Radio Free Europe/Radio Liberty"),
        ("Budanov", None),
        ("Kim", None),
    ],
)
def test_outlet_aliases(written: str, outlet: str | None) -> None:
    assert OutletTable.load().resolve(written) == outlet


def test_a_fuzzy_match_keeps_the_first_letter() -> None:
    from tracer.judgments._outlets import normalize

    table = OutletTable({normalize("BBC News"): "BBC"})
    assert table.resolve("BBC Newz") == "BBC"
    assert table.resolve("ABC News") is None  # one letter from "BBC News", but another outlet
    assert table.resolve("ABC News", known=["—"]) is None  # an index outlet that normalizes to nothing


def test_index_outlets_resolve_too() -> None:
    table = OutletTable.load()
    assert table.resolve("Harian Kompas") is None
    assert table.resolve("Harian Kompas", known=["Kompas"]) == "Kompas"
    assert table.resolve("Novaya Gazetta", known=["Novaya Gazeta"]) == "Novaya Gazeta"
    # an outlet the index names otherwise than the table comes back as the index names it
    assert table.resolve("kantor berita BBC", known=["bbc", "TASS"]) == "bbc"
    assert table.resolve("ТАСС", known=["tass.com"]) == "tass.com"
    assert table.resolve("BBC", known=["TASS"]) == "BBC"


FLAGGED = [
    # numbers and number words, with their qualifiers
    ("id-en 'more than' became 'about'", "Kami yakin sekitar 20 perwira senior memimpin unit.",
     "We believe more than 20 senior officers are commanding units.", "en", "number", "sekitar 20", "more than 20"),
    ("id-en number changed", "Sebanyak 12 orang tewas dalam serangan itu.", "Twenty people were killed in the attack.",
     "en", "number", "12", "Twenty"),
    ("id-ru number changed, multiplier words", "Sekitar 12.000 tentara dipindahkan ke Rusia.",
     "Около 11 тысяч военных переброшены в Россию.", "ru", "number", "Sekitar 12.000", "Около 11 тысяч"),
    ("id-uk number word", "Enam orang terluka dalam serangan di Kharkiv.",
     "Сім людей поранено внаслідок удару по Харкову.", "uk", "number", "Enam", "Сім"),
    ("id-en qualifier dropped", "Mereka berlatih di jalur sepanjang 500 kilometer.",
     "They train in more than 500 kilometres of passages.", "en", "hedge", "500", "more than 500"),
    ("id-ru qualifier added", "Setidaknya enam orang tewas.", "Шесть человек погибли.", "ru", "hedge",
     "Setidaknya enam", "Шесть"),
    # names across scripts
    ("id-en name", "Menteri Kim Jong-hyun berbicara di parlemen.", "Minister Kim Yong-hyun spoke in parliament.",
     "en", "name", "Kim Jong-hyun", "Kim Yong-hyun"),
    ("id-uk name across scripts", "Kepala intelijen Krylo Budanov mengatakan unit tiba.",
     "Начальник розвідки Кирило Буданов заявив, що підрозділи прибули.", "uk", "name", "Krylo Budanov",
     "Кирило Буданов"),
    ("id-ru name across scripts", "Juru bicara Dmitry Paskov menolak berkomentar.",
     "Пресс-секретарь Дмитрий Песков отказался от комментариев.", "ru", "name", "Dmitry Paskov", "Дмитрий Песков"),
    ("id-en surname inside a matching full name", "Ekonom Alexei Kosh mengatakan harga akan naik.",
     "Economist Alexei Kushch said prices would rise.", "en", "name", "Alexei Kosh", "Alexei Kushch"),
    ("id-uk surname after the other language's given name", "Ekonom Alexei Kosh mengatakan harga akan naik.",
     "Економіст Олексій Кущ заявив, що ціни зростуть.", "uk", "name", "Alexei Kosh", "Олексій Кущ"),
    # negation and hedges present on one side only
    ("id-en negation added", "Kremlin tidak mengonfirmasi pengiriman tentara.", "The Kremlin confirmed the deployment.",
     "en", "negation", "tidak", ""),
    ("id-ru negation dropped", "Kremlin mengomentari detail kerja sama militer.",
     "Кремль не будет комментировать детали военного сотрудничества.", "ru", "negation", "", "не"),
    ("id-en hedge dropped", "Tentara itu sudah dikerahkan ke garis depan.",
     "The troops have possibly already been deployed to the front line.", "en", "hedge", "", "possibly"),
    ("id-uk hedge added", "Tentara itu mungkin sudah tiba di Kursk.", "Військові вже прибули до Курська.", "uk",
     "hedge", "mungkin", ""),
    ("id-ru hedge dropped", "Rusia menerima 11.000 tentara dari Korea Utara.",
     "Россия якобы получила 11 тысяч военных из КНДР.", "ru", "hedge", "", "якобы"),
    # a quotation turned into an assertion
    ("id-en quote to assertion", "Sanksi tidak akan membuat Iran bertekuk lutut.",
     '"Sanctions will not bring Iran to its knees," the minister said.', "en", "quote", "",
     '"Sanctions will not bring Iran to its knees,"'),
    # dates
    ("id-uk date shifted", "Unit pertama tiba di Kursk pada 25 Oktober.", "Перші підрозділи прибули до Курська 23 жовтня.",
     "uk", "date", "25 Oktober", "23 жовтня"),
    ("id-en weekday", "Menteri berbicara pada hari Selasa.", "The minister spoke on Wednesday.", "en", "date",
     "Selasa", "Wednesday"),
    ("id-ru year", "Perjanjian itu ditandatangani pada 2023.", "Договор был подписан в 2024 году.", "ru", "date",
     "2023", "2024"),
    ("id-en Indonesian numeric date", "Pesawat itu jatuh pada Kamis (24/7/2025).", "The plane crashed on July 25.",
     "en", "date", "(24/7/2025)", "July 25"),
    # a designator is a name with a number: compared as one
    ("id-ru designator changed", "Pesawat AN-24 jatuh di Amur.", "Самолет Ан-26 разбился в Амурской области.", "ru",
     "number", "AN-24", "Ан-26"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "article", "source", "lang", "kind", "a_span", "s_span"), FLAGGED,
                         ids=[c[0] for c in FLAGGED])  # fmt: skip
def test_a_real_difference_is_flagged(case: str, article: str, source: str, lang: str, kind: str, a_span: str,
                                      s_span: str) -> None:  # fmt: skip
    flags = compare(article, source, lang)
    assert [(f.kind, f.article, f.source) for f in flags] == [(kind, a_span, s_span)]
    assert flags[0].note


FAITHFUL = [
    ("number words = numerals", "Enam orang tewas.", "Six people were killed.", "en"),
    ("id thousands = en thousands", "Lebih dari 1.500 orang mengungsi.", "More than 1,500 people fled.", "en"),
    ("id thousands = ru words", "Sekitar 11.000 tentara dipindahkan.", "Около 11 тысяч военных переброшены.", "ru"),
    ("id thousands = uk abbreviation", "Sekitar 10.000 tentara tiba.", "Близько 10 тис. військових прибули.", "uk"),
    ("decimals", "Inflasi mencapai 2,5 persen.", "Инфляция составила 2,5%.", "ru"),
    ("multiplier words", "Kerugian mencapai 2,8 miliar dolar.", "Losses reached $2.8bn.", "en"),
    ("clock times are not quantities", "Pertandingan dimulai pukul 3 sore.", "Матч начнется в 15:00.", "ru"),
    ("dates consume their numbers", "Unit pertama tiba pada 23 Oktober 2024.", "Перші підрозділи прибули 23 жовтня 2024 року.", "uk"),
    ("names across scripts", "Presiden Volodymyr Zelensky dan Kyrylo Budanov bertemu.",
     "Президент Володимир Зеленський та Кирило Буданов зустрілися.", "uk"),
    ("Russian and Ukrainian forms of one name", "Vladimir Kavardarkov ikut berunjuk rasa.",
     "Володимир Кавардарков взяв участь у протесті.", "uk"),
    ("Western names transcribed into Cyrillic", "Menteri Mike Pompeo dan Allan McGregor bertemu.",
     "Министр Майк Помпео и Аллан Макгрегор встретились.", "ru"),
    ("inflected surname", "Menurut Budanov, unit itu tiba.", "По словам Буданова, подразделение прибыло.", "ru"),
    ("one given name in two languages", "Ekonom Alexei Kushch berbicara.", "Економіст Олексій Кущ виступив.", "uk"),
    ("negation on both sides", "Kremlin tidak akan mengomentari detailnya.", "Кремль не будет комментировать детали.", "ru"),
    ("negation by an affix", "Spesies hiu itu tidak diketahui.", "The species of shark was unknown.", "en"),
    ("hedge on both sides", "Tentara itu kemungkinan sudah dikerahkan.", "The troops have likely already been deployed.", "en"),
    ("a modal carries the hedge", "Curah hujan mungkin tinggi di Meksiko.", "Rainfall across Mexico could be heavy.", "en"),
    ("quote kept as quote", '"Itu berita bohong," kata Peskov.', "«Это очередная утка», — сказал Песков.", "ru"),
    ("a quoted name is not speech", "Dia bermain untuk Chelsea.", "Он играет за «Челси».", "ru"),
    ("same weekday", "Menteri berbicara pada hari Rabu.", "Министр выступил в среду.", "ru"),
    ("'minggu' is also 'week'", "Mereka berlatih selama beberapa minggu.", "They trained for several weeks on Sunday.", "en"),
    ("range is not a qualifier", "Hujan 2 hingga 4 inci diperkirakan turun.", "As much as 2 to 4 inches of rain is expected.", "en"),
    ("a Russian's name in Ukrainian letters", "Presiden memecat Sergei Shoigu.", "Сергій Шойгу очолював міністерство оборони.", "uk"),
    ("a designator is no quantity", "Gubernur mengklaim bahwa AN-24 mengangkut 43 penumpang.",
     "The governor stated that there were 43 passengers (including five children) on board.", "en"),
    ("an Indonesian numeric date is a date", "AN-24 hilang kontak pada Kamis (24/7/2025) sekitar pukul 13.00.",
     "The aircraft vanished from radar around 1:00 p.m. local time (0400 GMT).", "en"),
    ("a quote attributed by its speaker before the verb", "Telegram mengatakan pihaknya secara aktif memerangi penipuan.",
     '"We actively combat misuse of our platform, including fraud," Telegram said.', "en"),
    ("'ke-25' is an ordinal, not a designator", "Hazard mencetak gol pada menit ke-25.", "Азар забил на 25-й минуте.", "ru"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "article", "source", "lang"), FAITHFUL, ids=[c[0] for c in FAITHFUL])
def test_a_faithful_translation_has_no_flags(case: str, article: str, source: str, lang: str) -> None:
    assert compare(article, source, lang) == []


def test_flags_compare_only_the_window_sentence_the_article_sentence_covers() -> None:
    from tracer.report._report import Match
    from tracer.tracing._trace import covered

    window = Match(0.9, 0.8, 0.1, 'Putin replaced Shoigu on Sunday. "The ministry must stay open to innovation," Peskov said.', "en",
                   "X", "https://x.example", "", None, [3, 4], 0, 70)  # fmt: skip
    sentence = "Presiden Putin mengganti Shoigu pada hari Minggu."
    assert covered(sentence, window) == "Putin replaced Shoigu on Sunday."
    assert [f.kind for f in compare(sentence, window.text, "en")] == ["quote"]  # the defect: the other sentence's quote
    assert compare(sentence, covered(sentence, window), "en") == []
    # nothing to tell the two apart: the whole passage is compared
    assert covered("Dia diganti.", window) == window.text


@pytest.mark.parametrize(
    ("text", "lang", "values"),
    [
        ("Sehingga, total manifes menjadi 49 orang.", "id", {49}),
        ("AN-24 mengangkut 43 penumpang dan enam awak pada Kamis (24/7/2025) pukul 13.00.", "id", {43, 6}),
        ("На борту находились 49 человек, включая шесть членов экипажа, 24 июля 2025 года.", "ru", {49, 6}),
        ("The Su-27 carried 10,000 rounds at 1:00 p.m. on 12 May.", "en", {10_000}),
        ("Presiden Rusia memecat Shoigu pada Minggu (12/5).", "id", set()),
    ],
)
def test_quantities_leave_out_dates_times_and_designators(text: str, lang: str, values: set[int]) -> None:
    from tracer.judgments._flags import quantities

    assert quantities(text, lang) == {float(v) for v in values}


def test_quantity_agreement_counts_the_sentences_figures_a_passage_states() -> None:
    from tracer.judgments._agreement import quantity_agreement, query_quantities

    wanted = query_quantities("Gubernur mengklaim AN-24 mengangkut 43 penumpang dan enam awak, total 49 orang.")
    assert wanted == {43.0, 6.0, 49.0}
    orlov = "Orlov said the plane was carrying 49 people, including 43 passengers and a crew of 6."
    assert quantity_agreement(wanted, orlov, "en") == 3
    assert quantity_agreement(wanted, "На борту находились 49 человек, включая шесть членов экипажа.", "ru") == 2
    later = "The Emergency Ministry later reported 48 people were on board the An-24."
    assert quantity_agreement(wanted, later, "en") == 0
    assert quantity_agreement(frozenset(), "49 people", "en") == 0


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("Sementara itu, Telegram mengatakan pihaknya aktif memerangi penipuan.", True),
        ("Terkait alasan itu, jubir Kremlin Dmitry Peskov menyebut, Kemhan butuh inovasi.", True),
        ('"Itu berita bohong," kata Peskov.', True),
        ("Kremlin menyebut laporan itu palsu, seperti dilansir RIA.", True),
        ("Ia mengatakan tidak ada korban.", False),  # a pronoun names no one
        ("Sanksi tidak akan membuat Iran bertekuk lutut.", False),
    ],
)
def test_a_sentence_is_attributed_by_a_credit_or_a_named_speaker(sentence: str, expected: bool) -> None:
    from tracer.judgments._credits import attributed, find_attribution

    assert attributed(sentence) is expected
    if sentence.startswith("Sementara"):  # a speaker before the verb is no credit to check
        assert find_attribution(sentence) is None
