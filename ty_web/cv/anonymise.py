"""Remove personal data from a CV's text, keeping what matters for matching (titles, employers, dates of
employment, skills).

No German NER model installs offline, so this works with what a CV's structure and the account tell:

- the person's **name**: from a ``Name:`` label (also ``Vorname``/``Nachname``, ``Lebenslauf von ...``) or
  the first name-like line of the CV's header (the lines before its first work, education or skills
  section), plus any names the caller knows (the account's display name). Replaced wherever it recurs:
  the full name, and each part alone (first name, surname, each half of a double name), case-insensitively,
  with umlaut spellings (``Müller`` = ``Mueller``, ``Weiß`` = ``Weiss``) and a genitive ``s``;
- **e-mail addresses** (also ``name (at) host (dot) de``), **URLs** and **social profiles** (``https://``,
  ``www.``, linkedin/xing/github/... without a scheme, personal domains, ``@handles``, ``LinkedIn: ...``);
- **IBANs**: candidates found by a linear pattern, confirmed by ``stdnum.iban`` (the country's length and
  format, and the checksum); a German-shaped ``DE`` with 20 digits goes even with a wrong checksum (a typo
  in one's own IBAN is still one's own, and nothing else looks like it);
- **tax and social-security numbers**: the Steuer-Identifikationsnummer (11 digits, confirmed by
  ``stdnum.de.idnr``: check digit and digit-repetition rule), the Steuernummer (written with slashes,
  ``181/815/08155``, or after an ``St.-Nr.``/``Steuernummer`` label; its regional format checked by
  ``stdnum.de.stnr``, which has no check digit) and the Sozialversicherungs-/Rentenversicherungsnummer
  (``65 170839 J 003``; python-stdnum 2.2 has no module for it, so its check digit is computed here);
- **dates of birth** after ``geb.``, ``geboren am``, ``Geburtsdatum``, ``*`` (numeric and written months)
  with a following place of birth;
- **phone numbers**: found and validated by ``phonenumbers`` (Google's libphonenumber rules; region ``DE``,
  leniency ``VALID``: ``0171 1234567``, ``+49 (0) 30 1234567``, ``030/123 45 67``, ``0049 89 123456``, any
  country's numbers with ``+``), fed one line or column at a time in bounded windows with a bounded number
  of tries, so the matcher's work stays linear; date ranges (``03/2019 – 08/2021``) are left alone. After a
  phone label (``Tel.:``, ``Mobil``, ...) any 6 to 15 digits go too, valid or not;
- **street addresses** (``...straße 12a``, ``Karl-Marx-Allee 90``, ``Am Markt 5`` before a postcode or
  after an ``Anschrift:`` label) and **postcodes** before a city (the city stays: it is not personal and
  the region matters for matching);
- other people named with a title (``Referenz: Herr Dr. Meier``, ``Frau Schulz``);
- labelled personal details an employer may not ask about (``Familienstand``, ``Staatsangehörigkeit``,
  ``Religion``, ``Geburtsort``, ``Steuer-ID``, ...).

Each is replaced by a placeholder (:data:`PLACEHOLDERS`; tax and social-security numbers by the one for
other personal details). A surname that is also an occupation (``Koch``, ``Zimmermann``) is replaced alone
only where it is not used as one (``als Koch``, ``Koch (m/w/d)``).

Every pattern is linear on hostile input: bounded repetitions, no nested unbounded quantifiers, and the
library validators only ever see candidates of bounded length.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import phonenumbers
from stdnum import iban as stdnum_iban
from stdnum.de import idnr as stdnum_idnr
from stdnum.de import stnr as stdnum_stnr

from ty_web.cv.parse import MONTHS, heading_kind, is_job_word, looks_like_employer

PLACEHOLDERS = {
    "name": "[NAME]",
    "email": "[E-MAIL]",
    "phone": "[TELEFON]",
    "address": "[ADRESSE]",
    "postcode": "[PLZ]",
    "birth_date": "[GEBURTSDATUM]",
    "birth_place": "[GEBURTSORT]",
    "iban": "[IBAN]",
    "url": "[URL]",
    "personal": "[ENTFERNT]",
}


@dataclass(frozen=True)
class Anonymised:
    text: str
    removed: dict[str, int] = field(default_factory=dict)  # kind -> how many were replaced; never the values


# ------------------------------------------------------------------ patterns

_URL_CHARS = r"[^\s<>\"'()\[\]{}|]"
EMAIL = re.compile(r"(?<![\w.+-])[\w.%+-]{1,64}@(?:[\w-]{1,63}\.)+[A-Za-z]{2,24}(?![\w-])")
EMAIL_OBFUSCATED = re.compile(
    r"(?<![\w.+-])[\w.%+-]{1,64}\s*(?:\(at\)|\[at\]|\{at\}|\(ät\))\s*(?:[\w-]{1,63}\s*(?:\.|\(dot\)|\[dot\]|\(punkt\))\s*)+"
    r"[A-Za-z]{2,24}(?![\w-])", re.IGNORECASE)
URL = re.compile(rf"(?i)\b(?:https?://|ftp://|www\.){_URL_CHARS}+")
SOCIAL_DOMAINS = (r"linkedin\.com|xing\.com|xing\.de|github\.com|github\.io|gitlab\.com|bitbucket\.org|twitter\.com|"
                  r"x\.com|instagram\.com|facebook\.com|fb\.com|tiktok\.com|youtube\.com|stackoverflow\.com|"
                  r"behance\.net|dribbble\.com|medium\.com|mastodon\.social|t\.me|wa\.me|about\.me|"
                  r"threads\.net|bsky\.app|linktr\.ee")
SOCIAL = re.compile(rf"(?i)\b(?:[a-z0-9-]{{1,63}}\.){{0,4}}(?:{SOCIAL_DOMAINS})(?:/{_URL_CHARS}*)?")
# a personal domain written without scheme: lower-case only, so ASP.NET or Vue.js never match
DOMAIN = re.compile(rf"(?<![\w@.-])[a-z0-9][a-z0-9-]{{0,62}}(?:\.[a-z0-9-]{{1,63}})*"
                    rf"\.(?:de|com|net|org|eu|info|me|at|ch|online|website|site|page)(?:/{_URL_CHARS}*)?(?![\w-])")
HANDLE = re.compile(r"(?<![\w@.])@[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_])?(?![\w@])")
PROFILE_LABEL = re.compile(
    r"(?im)(?:^|(?<=[\t|•·]))[ \t]{0,12}(?P<label>LinkedIn|Xing|GitHub|GitLab|Twitter|Instagram|Facebook|Mastodon|"
    r"Bluesky|TikTok|YouTube|Skype|Website|Webseite|Homepage|Portfolio|Blog|Social Media)[ \t]*(?::|\t)[ \t]*"
    r"(?P<value>[^\t|\n]*[^\t|\n\s])")

IBAN = re.compile(r"(?i)\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,3})?\b")
# Steuer-Identifikationsnummer: 11 digits, the first not 0, written in one block or as "12 345 678 901"
TAX_ID = re.compile(r"(?<![\w.,/+-])[1-9](?:\d{10}|\d[ ]\d{3}[ ]\d{3}[ ]\d{3})(?!\w|[.,/-]\d)")
# Steuernummer in a regional format with slashes: 181/815/08155, 21/815/08150, 93815/08152, 133/8150/8159,
# 22/815/0815/4
TAX_NUMBER_SLASHED = re.compile(r"(?<![\w.,/+-])(?:\d{2,3}/\d{3}/\d{5}|\d{3}/\d{4}/\d{4}|\d{5}/\d{5}|"
                                r"\d{2}/\d{3}/\d{4}/\d)(?!\w|[.,/-]\d)")
# ... and in any other form only right after its label: "St.-Nr. 181 815 08155", "Steuernummer: 2181081508155"
TAX_NUMBER_LABELLED = re.compile(r"(?i)(?<!\w)(?:St\.?[ ]?-?[ ]?Nr\.?|Steuer-?(?:nummer|nr\.?))[ \t]{0,3}:?[ \t]{0,3}"
                                 r"(?P<value>\d(?:[ /.-]?\d){9,12})(?!\w|[.,/-]\d)")
# Sozialversicherungs-/Rentenversicherungsnummer: area, birth date (ddmmyy), initial of the birth name, serial,
# check digit: "65 170839 J 003", "65170839J003"
PENSION_NUMBER = re.compile(r"(?<![\w.,/+-])(?P<area>\d{2})[ ]?(?P<day>\d{2})(?P<month>\d{2})\d{2}[ ]?"
                            r"(?P<letter>[A-Z])[ ]?(?P<serial>\d{2})[ ]?(?P<check>\d)(?!\w|[.,/-]\d)")

_MONTH_NAMES = "|".join(sorted((re.escape(m) for m in MONTHS), key=len, reverse=True))
DATE = (rf"(?:\d{{1,2}}\.[ ]?\d{{1,2}}\.[ ]?(?:\d{{4}}|\d{{2}})(?!\d)|\d{{4}}-\d{{2}}-\d{{2}}"
        rf"|\d{{1,2}}/\d{{1,2}}/\d{{2,4}}|\d{{1,2}}\.?[ ]*(?:{_MONTH_NAMES})\.?[ ]+\d{{4}})")
BIRTH = re.compile(
    rf"(?i)(?P<label>(?<!\w)(?:geb\.(?:[ ]?am)?|geboren(?:[ ]+am)?|Geburtsdatum(?:[ ]*(?:/|und)[ ]*-?[ ]*ort)?|"
    rf"Geburtstag|Geb\.[ ]?-?[ ]?Datum|Date of birth|Birth ?date|Born(?: on)?|DOB)|(?:^|(?<=\s))\*)"
    rf"[ \t]*[:\t]?[ \t]*(?P<date>{DATE})(?P<place>,?[ ]+(?:in[ ]+)?[A-ZÄÖÜ][\w.-]+(?:[ ]+(?:a\.[ ]?d\.|am|an der|"
    rf"im|bei)[ ]+[A-ZÄÖÜ][\w.-]+)?(?:[ ]*\([A-Za-zÄÖÜäöü. ]{{1,30}}\))?)?")

PHONE_REGION = "DE"  # numbers without a country code are read as German ones
PHONE_LENIENCY = phonenumbers.Leniency.VALID  # a number that exists in the numbering plan, not just its length
# The matcher sees one line or table column at a time (a number never spans one) ...
PHONE_SEGMENT = re.compile(r"[^\n\t|•·]{6,}")
# ... cut into windows of at most this many characters (at a letter, so a number is never cut in two) ...
PHONE_WINDOW = 256
# ... and gives up on a window after this many candidates that were no valid number.
PHONE_MAX_TRIES = 16
# where the library did not find a number: the project's own candidate rule, used only after a phone label
PHONE_CANDIDATE = re.compile(r"(?<![\w+/.,-])(?:\+|00)?\(?\d[\d ()./-]{4,26}\d(?![\w/]|[.,]\d)")
PHONE_LABEL = re.compile(r"(?i)(?:tel(?:efon)?|phone|mobil(?:funk)?|handy|fax|fon|mobile|cell|festnetz|"
                         r"erreichbar(?: unter)?|ruf(?:nummer)?)\.?\s*(?:\((?:privat|mobil|dienstlich)\))?\s*[:.]?\s*$")
DATE_LIKE = re.compile(r"(?<!\d)(?:\d{1,2}[./-](?:19|20)\d{2}(?!\d)|\d{1,2}\.\d{1,2}\.\d{2,4}(?!\d)|"
                       r"(?:19|20)\d{2}[ ]*[-–/][ ]*(?:(?:19|20)\d{2}|\d{1,2})(?!\d)|(?:19|20)\d{2}-\d{2}-\d{2})")
_PHONE_CHARS = frozenset("0123456789 ()+-./")

_STRONG_SUFFIX = (r"straße|strasse|str\.|weg|platz|allee|gasse|ring|damm|ufer|chaussee|steig|pfad|stieg|kamp|"
                  r"promenade|zeile|twiete")
_STREET_WORD = (r"Straße|Strasse|Str\.|Weg|Platz|Allee|Gasse|Ring|Damm|Ufer|Chaussee|Steig|Pfad|Stieg|Kamp|"
                r"Promenade|Zeile|Twiete|Markt|Hof|Berg|Feld|Graben|Wall|Deich|Anger|Winkel|Garten|Park")
_LEAD_WORDS = r"an|am|auf|der|den|dem|des|zum|zur|im|in|unter|vor|hinter|bei|beim|von|vom|alte|alter|neue|neuer"
_LEAD = rf"(?:(?:[A-ZÄÖÜ][\w.'-]{{0,60}}|{_LEAD_WORDS})[ ])"
_HOUSE = r"(?!(?:19|20)\d{2}(?!\d))\d{1,4}(?:[ ]?[a-zA-Z](?![\w]))?(?:[ ]?[-/][ ]?\d{1,4}[a-zA-Z]?)?(?![\d/])"
# "Hauptstraße 12a", "Karl-Marx-Allee 90" (one word); "Berliner Straße 5", "Eppendorfer Weg 112" (two or three)
STREET = re.compile(rf"(?<![\w-])(?:[A-ZÄÖÜ][\wäöüß'-]{{0,60}}?(?i:{_STRONG_SUFFIX})(?<!ering)(?<!oring)(?<!uring)"
                    rf"(?<!tering)|{_LEAD}{{1,2}}(?:{_STREET_WORD}))[ ]+(?:Nr\.[ ]?)?{_HOUSE}")
# weaker street forms ("Am Markt 5", "Lindenhof 3") only where a postcode and city follow
STREET_BEFORE_POSTCODE = re.compile(
    rf"(?<![\w-]){_LEAD}{{0,2}}[A-ZÄÖÜ][\wäöüß'-]{{0,60}}[ ]+{_HOUSE}"
    rf"(?=[ ]*(?:,|\n|\t|\||·|•)[ ]*(?:D-|DE-)?\d{{5}}[ ]+[A-ZÄÖÜ])")
POSTCODE = re.compile(r"(?<![\w.,/:-])(?:D-|DE-)?(?!00)\d{5}(?=[ \t]+(?P<city>[A-ZÄÖÜ][a-zäöüß]+))")
POSTCODE_AT_CH = re.compile(r"(?<![\w.,/-])(?:A|AT|CH)-\d{4}(?=[ \t]+[A-ZÄÖÜ][a-zäöüß]+)")
COUNT_NOUNS = {
    "mitarbeiter", "mitarbeitende", "mitarbeitern", "beschäftigte", "beschäftigten", "kunden", "kundinnen", "euro",
    "eur", "stück", "einwohner", "teilnehmer", "teilnehmende", "besucher", "artikel", "paletten", "sendungen",
    "pakete", "positionen", "betten", "patienten", "patientinnen", "gäste", "filialen", "fahrzeuge", "tonnen",
    "kilometer", "stunden", "std", "tickets", "zeilen", "nutzer", "nutzerinnen", "anfragen", "aufträge", "projekte",
    "bewohner", "bewohnerinnen", "mahlzeiten", "essen", "couverts", "quadratmeter", "lieferungen", "bestellungen",
    "datensätze", "rechnungen", "schüler", "studierende", "abonnenten", "follower", "transaktionen",
}
ADDRESS_LABEL = re.compile(
    r"(?im)(?:^|(?<=[\t|]))[ \t]{0,12}(?P<label>Anschrift|Adresse|Wohnort|Wohnhaft(?: in)?|Address|Straße|Strasse|"
    r"Hausanschrift|Postanschrift)[ \t]*(?::|\t)[ \t]*(?P<value>[^\t|\n]*[^\t|\n\s])")
PERSONAL_LABEL = re.compile(
    r"(?im)(?:^|(?<=[\t|•·]))[ \t]{0,12}(?P<label>Familienstand|Staatsangehörigkeit|Staatsbürgerschaft|Nationalität|"
    r"Religion|Konfession|Religionszugehörigkeit|Kinder|Geburtsort|Geburtsname|Alter|Jahrgang|Steuer-?ID|"
    r"Steuer-Identifikationsnummer|Steuernummer|Sozialversicherungsnummer|SV-Nummer|Rentenversicherungsnummer|"
    r"Personalausweis(?:nummer)?|Reisepass(?:nummer)?|Ausweisnummer|Krankenkasse|Gesundheitszustand|"
    r"Schwerbehinderung|Konto(?:nummer)?|Kontoinhaber(?:in)?|Bankverbindung|IBAN|BIC|Geschlecht|Eltern|Vater|Mutter|"
    r"Nationality|Marital status|Date of birth|Place of birth|Geburtsdatum)[ \t]*(?::|\t)[ \t]*"
    r"(?P<value>[^\t|\n]*[^\t|\n\s])")
_PERSONAL_PLACEHOLDER = {"geburtsort": "birth_place", "place of birth": "birth_place", "iban": "iban",
                         "geburtsdatum": "birth_date", "date of birth": "birth_date"}

# ------------------------------------------------------------------ names

NAME_LABEL = re.compile(
    r"(?im)^[ \t]{0,12}(?P<label>Name|Vollständiger Name|Vor-? und Nach-?name|Vor- und Zuname|Name, Vorname|"
    r"Nachname, Vorname|Vorname|Vornamen|Nachname|Familienname|Zuname|Bewerber(?:in)?|Full name|First name|"
    r"Last name|Surname)[ \t]*(?::|\t)[ \t]*(?P<value>[^\t|\n]*[^\t|\n\s])")
CV_TITLE_PREFIX = re.compile(r"(?i)^(?:lebenslauf|curriculum vitae|cv|bewerbung|bewerbungsunterlagen|resume|résumé)"
                             r"(?:[ ]+(?:von|für|of|der|des))?[ ]*[:\-–—|]?[ ]*")
HONORIFIC = re.compile(r"(?i)^(?:herr|frau|hr\.|fr\.|mr\.?|mrs\.?|ms\.?|dr\.(?:-\w+\.?)?|prof\.|med\.|rer\.|"
                       r"nat\.|phil\.|dipl\.(?:-\w+\.?)?|ing\.|m\.\s?sc\.?|b\.\s?sc\.?|b\.\s?a\.|m\.\s?a\.|b\.\s?eng\.|m\.\s?eng\.|"
                       r"mba|ll\.\s?m\.|\(fh\)|\(tu\)|\(ba\)|\(ihk\)|\(hwk\)|b\.?ed\.?|m\.?ed\.?)$")
PARTICLES = {"von", "van", "de", "der", "den", "del", "della", "di", "da", "du", "dos", "das", "zu", "zur", "vom",
             "zum", "ten", "ter", "la", "le", "bin", "ibn", "al", "el", "y", "und"}
NOT_NAMES = {
    "lebenslauf", "curriculum", "vitae", "bewerbung", "bewerbungsunterlagen", "persönliche", "persönlicher", "daten",
    "angaben", "person", "kontakt", "kontaktdaten", "profil", "kurzprofil", "anschrift", "adresse", "telefon",
    "mobil", "handy", "email", "e-mail", "mail", "geburtsdatum", "geboren", "deutschland", "germany", "österreich",
    "schweiz", "seite", "page", "straße", "berufserfahrung", "werdegang", "beruflicher", "berufliche", "ausbildung",
    "kenntnisse", "fähigkeiten", "sprachen", "über", "mich", "zur", "meine", "mein", "ich", "sehr", "geehrte",
    "geehrter", "damen", "herren", "senior", "junior", "lead", "head", "chief", "team", "staatlich", "geprüfter",
    "geprüfte", "examinierte", "examinierter", "gelernter", "gelernte", "diplom", "bachelor", "master", "of",
    "science", "arts", "engineering", "software", "full", "stack", "backend", "frontend", "data", "cloud", "it",
    "gmbh", "ag", "kg", "ohg", "mbh", "resume", "résumé", "tabellarischer", "referenzen", "zeugnisse", "anlagen",
    "anlage", "stand", "ort", "datum", "unterschrift", "berlin", "hamburg", "münchen", "köln", "frankfurt",
    "stuttgart", "düsseldorf", "dortmund", "essen", "leipzig", "bremen", "dresden", "hannover", "nürnberg",
    "bewerber", "bewerberin", "kandidat", "kandidatin", "vollzeit", "teilzeit", "main", "am", "an",
}
# Surnames that are also occupations or everyday words: alone, replaced only where not used as that word.
WORD_SURNAMES = {
    "koch", "köchin", "zimmermann", "maurer", "richter", "schneider", "müller", "fischer", "weber", "bauer",
    "becker", "bäcker", "schäfer", "schuster", "gärtner", "metzger", "fleischer", "jäger", "förster", "glaser",
    "töpfer", "wagner", "schmied", "schreiner", "tischler", "drechsler", "maler", "lehrer", "pfarrer", "kellner",
    "kaufmann", "meister", "kraft", "klein", "lang", "kurz", "groß", "braun", "schwarz", "weiß", "alt", "jung",
    "fuchs", "wolf", "vogel", "hahn", "sommer", "winter", "frank", "ernst", "kaiser", "könig", "schreiber",
    "schlosser", "dreher", "färber", "gerber", "seiler", "wirth", "wirt", "pilot", "bote", "vogt", "steinmetz",
    "hirt", "hirte", "stein", "berg",
}
_JOB_CONTEXT_BEFORE = re.compile(r"(?i)(?:\bals|\bzum|\bzur|\bgelernte[rn]?|\bausgebildete[rn]?|\bausbildung|\bberuf|"
                                 r"\bgesell(?:e|in)|\bmeister(?:in)?|\bjunior|\bsenior|\bchef|\bhilfs|\bstelle|"
                                 r"[-/])[ ]*$|(?:(?:[-–]|bis)[ ]*(?:\d{1,2}[./])?\d{4}|heute|dato|jetzt|aktuell|"
                                 r"seit[ ]+(?:\d{1,2}[./])?\d{4})[ \t]*[|:,–-]?\s*$")
_JOB_CONTEXT_AFTER = re.compile(r"(?i)^(?:[ ]*\((?:m|w|d|f)/|[ ]*/[ ]*-?in\b|[ ]*/[ ]*\w+in\b|in(?:nen)?\b|"
                                r"[ ]*(?:meister|geselle|ausbildung|lehre|handwerk|m/w/d)|[-/])")
# anyone addressed by title (a referee, a manager): "Herr Dr. Meier", "Frau Anna Schulz", "Hr. Yilmaz"
ADDRESSED = re.compile(r"(?<!\w)(?P<title>(?:Herrn?|Frau|Hr\.|Fr\.)(?:[ ]+(?:Dr\.|Prof\.|Dipl\.-\w+\.?))*)[ ]+"
                       r"(?!\[|Dr\.|Prof\.|Dipl\.)(?P<name>[A-ZÄÖÜ][\w'’-]+"
                       r"(?:[ ]+(?:von|van|de|zu|der|den)?[ ]?[A-ZÄÖÜ][\w'’-]+)?)")
_MONTH_AFTER_YEAR = re.compile(r"^\.?[ ]*(?:19|20)\d{2}")


def anonymise(text: str, *, known_names: Iterable[str] = (), known_emails: Iterable[str] = ()) -> Anonymised:
    """The text with every personal item replaced by its placeholder, and how many of each were replaced."""
    text = unicodedata.normalize("NFC", text)
    removed: Counter[str] = Counter()
    names = _names(text, known_names)

    def sub(pattern: re.Pattern[str], kind: str, text: str) -> str:
        new, n = pattern.subn(PLACEHOLDERS[kind], text)
        removed[kind] += n
        return new

    for email in known_emails:
        if email and "@" in email:
            text = sub(re.compile(re.escape(email.strip()), re.IGNORECASE), "email", text)
    text = sub(EMAIL, "email", text)
    text = sub(EMAIL_OBFUSCATED, "email", text)
    text = _replace_labelled(PROFILE_LABEL, text, lambda _label: "url", removed)
    text = sub(URL, "url", text)
    text = sub(SOCIAL, "url", text)
    text = sub(DOMAIN, "url", text)
    text = sub(HANDLE, "url", text)
    text = _replace_iban(text, removed)
    text = _replace_tax_and_pension_numbers(text, removed)
    text = _replace_birth(text, removed)
    text = _replace_labelled(PERSONAL_LABEL, text, lambda label: _PERSONAL_PLACEHOLDER.get(label.lower(), "personal"),
                             removed)
    text = _replace_phones(text, removed)
    text = _replace_labelled(ADDRESS_LABEL, text, lambda _label: "address", removed)
    text = sub(STREET, "address", text)
    text = sub(STREET_BEFORE_POSTCODE, "address", text)
    text = _replace_postcodes(text, removed)
    text = sub(POSTCODE_AT_CH, "postcode", text)
    text = _replace_addressed(text, removed)
    text = _replace_names(text, names, removed)
    return Anonymised(text, {k: v for k, v in removed.items() if v})


# ------------------------------------------------------------------ detectors with checks


def _replace_labelled(pattern: re.Pattern[str], text: str, kind_of, removed: Counter[str]) -> str:
    def repl(m: re.Match[str]) -> str:
        value = m.group("value")
        if value.startswith("[") and value.endswith("]"):
            return m.group(0)  # already a placeholder
        kind = kind_of(m.group("label"))
        removed[kind] += 1
        start, end = m.span("value")
        return m.group(0)[: start - m.start()] + PLACEHOLDERS[kind] + m.group(0)[end - m.start():]

    return pattern.sub(repl, text)


def iban_is_valid(candidate: str) -> bool:
    """An IBAN by ``stdnum.iban``: a known country, its length and format, and the checksum."""
    return len(candidate) <= 64 and stdnum_iban.is_valid(candidate)


def _replace_iban(text: str, removed: Counter[str]) -> str:
    def repl(m: re.Match[str]) -> str:
        raw = m.group(0)
        # the pattern is greedy: find the longest prefix that is an IBAN (a BIC or a word may follow)
        for end in range(len(raw), 14, -1):
            candidate = raw[:end]
            if candidate[-1] == " ":
                continue
            compact = candidate.replace(" ", "").upper()
            german_shape = compact.startswith("DE") and re.fullmatch(r"DE\d{20}", compact)
            if iban_is_valid(candidate) or german_shape:
                removed["iban"] += 1
                return PLACEHOLDERS["iban"] + raw[end:]
        return raw

    return IBAN.sub(repl, text)


def _replace_birth(text: str, removed: Counter[str]) -> str:
    def repl(m: re.Match[str]) -> str:
        out = text[m.start(): m.start("date")] + PLACEHOLDERS["birth_date"]
        removed["birth_date"] += 1
        place = m.group("place")
        if place:
            word = re.sub(r"^,?[ ]+(?:in[ ]+)?", "", place).split()[0].strip(".,").lower()
            if word in COUNT_NOUNS or heading_kind(word) is not None or word in {"bis", "und", "seit"}:
                return out + place
            lead = re.match(r"^,?[ ]+(?:in[ ]+)?", place)  # the place group starts with it
            removed["birth_place"] += 1
            return out + (lead.group(0) if lead else "") + PLACEHOLDERS["birth_place"]
        return out

    return BIRTH.sub(repl, text)


def pension_number_is_valid(candidate: str) -> bool:
    """A Rentenversicherungsnummer (= Sozialversicherungsnummer): 2 digits area, the birth date as ddmmyy,
    the birth name's initial, a 2-digit serial and a check digit over all of them with the letter as its
    position in the alphabet (weights 2 1 2 5 7 1 2 1 2 1 2 1, sum of the products' digit sums, mod 10)."""
    m = PENSION_NUMBER.fullmatch(candidate.strip().upper())
    if m is None or not 1 <= int(m.group("month")) <= 12 or int(m.group("day")) == 0:
        return False
    compact = re.sub(r"\s", "", m.group(0))
    digits = compact[:8] + f"{ord(compact[8]) - ord('A') + 1:02d}" + compact[9:11]
    total = sum(sum(divmod(int(d) * w, 10)) for d, w in zip(digits, (2, 1, 2, 5, 7, 1, 2, 1, 2, 1, 2, 1), strict=True))
    return total % 10 == int(compact[11])


def _replace_tax_and_pension_numbers(text: str, removed: Counter[str]) -> str:
    """Steuer-ID, Steuernummer and Rentenversicherungsnummer, each confirmed by its validator."""

    def checked(valid: Callable[[str], bool]) -> Callable[[re.Match[str]], str]:
        def repl(m: re.Match[str]) -> str:
            value = m.group("value") if "value" in m.re.groupindex else m.group(0)
            if not valid(value):
                return m.group(0)
            removed["personal"] += 1
            start, end = m.span("value") if "value" in m.re.groupindex else m.span()
            return m.group(0)[: start - m.start()] + PLACEHOLDERS["personal"] + m.group(0)[end - m.start():]

        return repl

    text = TAX_NUMBER_LABELLED.sub(checked(stdnum_stnr.is_valid), text)
    text = TAX_NUMBER_SLASHED.sub(checked(stdnum_stnr.is_valid), text)
    text = TAX_ID.sub(checked(stdnum_idnr.is_valid), text)
    return PENSION_NUMBER.sub(checked(pension_number_is_valid), text)


def _is_phone(candidate: str) -> bool:
    """The project's own rule for a number after a phone label: 6 to 15 digits, not a date."""
    digits = re.sub(r"\D", "", candidate)
    compact = re.sub(r" ?([/-]) ?", r"\1", candidate)  # "0561 / 98 76 54", "0151 - 234 567 89"
    if "\n" in candidate or re.search(r"[ ./-]{2,}|\)\(", compact):
        return False
    if candidate.count("(") != candidate.count(")"):
        return False
    if DATE_LIKE.search(candidate):
        return False
    return 6 <= len(digits) <= 15


def _phone_windows(start: int, end: int, text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of the windows the matcher sees for one segment: at most PHONE_WINDOW characters, each cut
    after a character that is no part of a number where there is one in the window's last quarter."""
    while end - start > PHONE_WINDOW:
        cut = start + PHONE_WINDOW
        for i in range(cut - 1, cut - PHONE_WINDOW // 4, -1):
            if text[i] not in _PHONE_CHARS:
                cut = i + 1
                break
        yield start, cut
        start = cut
    yield start, end


def phone_spans(text: str) -> list[tuple[int, int]]:
    """Where ``phonenumbers`` finds a valid phone number (leniency VALID, region DE) that is not a date range.

    The matcher sees one line or column at a time in windows of at most :data:`PHONE_WINDOW` characters and
    at most :data:`PHONE_MAX_TRIES` failed candidates each: its work is linear in the text's length."""
    spans: list[tuple[int, int]] = []
    for segment in PHONE_SEGMENT.finditer(text):
        for start, end in _phone_windows(segment.start(), segment.end(), text):
            window = text[start:end]
            if sum(c.isdigit() for c in window) < 5:
                continue
            matcher = phonenumbers.PhoneNumberMatcher(window, PHONE_REGION, leniency=PHONE_LENIENCY,
                                                      max_tries=PHONE_MAX_TRIES)
            for match in matcher:
                if not DATE_LIKE.search(match.raw_string):
                    spans.append((start + match.start, start + match.end))
    return spans


def _replace_phones(text: str, removed: Counter[str]) -> str:
    spans = phone_spans(text)
    if spans:
        parts: list[str] = []
        last = 0
        for start, end in spans:
            parts += [text[last:start], PLACEHOLDERS["phone"]]
            last = end
        parts.append(text[last:])
        text = "".join(parts)
        removed["phone"] += len(spans)

    def labelled(m: re.Match[str]) -> str:
        candidate = m.group(0).rstrip(" (./-")
        tail = m.group(0)[len(candidate):]
        line_start = text.rfind("\n", max(0, m.start() - 40), m.start()) + 1
        if not PHONE_LABEL.search(text[max(line_start, m.start() - 40): m.start()]) or not _is_phone(candidate):
            return m.group(0)
        removed["phone"] += 1
        return PLACEHOLDERS["phone"] + tail

    return PHONE_CANDIDATE.sub(labelled, text)


def _replace_postcodes(text: str, removed: Counter[str]) -> str:
    def repl(m: re.Match[str]) -> str:
        if m.group("city").lower() in COUNT_NOUNS:
            return m.group(0)
        removed["postcode"] += 1
        return PLACEHOLDERS["postcode"]

    return POSTCODE.sub(repl, text)


# ------------------------------------------------------------------ names


def _name_tokens(value: str) -> list[str] | None:
    """The tokens of a person's name, or None when the value does not look like one."""
    value = CV_TITLE_PREFIX.sub("", value.strip())
    value = re.sub(r"\s+", " ", value).strip(" ,;:|•·-–—")
    if not value or len(value) > 70 or any(c.isdigit() for c in value) or "@" in value or "[" in value:
        return None
    if "," in value:  # "Schmidt, Anna" -> "Anna Schmidt"
        parts = [p.strip() for p in value.split(",")]
        if len(parts) != 2 or not all(parts) or any(len(p.split()) > 3 for p in parts):
            return None
        value = f"{parts[1]} {parts[0]}"
    tokens = [t for t in value.split(" ") if t and not HONORIFIC.match(t)]
    core = [t for t in tokens if t.lower() not in PARTICLES]
    if not 2 <= len(core) <= 5:
        return None
    for token in tokens:
        if token.lower() in PARTICLES:
            continue
        bare = token.replace("'", "").replace("’", "").replace("-", "")
        if len(bare) < 2 or not bare.isalpha() or not token[0].isupper():
            return None
        for part in re.split(r"[-'’]", token):
            if part and (part.lower() in NOT_NAMES or (is_job_word(part) and not _is_word_surname(part.lower()))):
                return None
    return tokens


HEADER_SECTIONS = {"persönliche daten", "persönliche angaben", "angaben zur person", "zur person", "kontakt",
                   "kontaktdaten", "profil", "kurzprofil", "über mich", "personal data", "contact", "profile",
                   "summary", "zusammenfassung", "mein profil", "berufsziel", "persönliches"}


def _plausible_name_word(token: str) -> bool:
    bare = token.replace("'", "").replace("’", "").replace("-", "").replace(".", "")
    return len(bare) >= 2 and bare.isalpha() and token[:1].isupper() and not HONORIFIC.match(token)


def _header_lines(text: str) -> list[str]:
    lines: list[str] = []
    for line in text.split("\n"):
        kind = heading_kind(line)
        if kind is not None and re.sub(r"[^\w ]", "", line).strip().lower() not in HEADER_SECTIONS:
            break
        if line.strip():
            lines.append(line)
        if len(lines) >= 25:
            break
    return lines


def _names(text: str, known: Iterable[str]) -> list[list[str]]:
    """Each name as its tokens: the caller's known names, labelled names, the header's first name line."""
    found: list[list[str]] = []
    for name in known:
        tokens = _name_tokens(name) if name else None
        if tokens is None and name and name.strip():
            tokens = [t for t in re.split(r"\s+", name.strip()) if len(t) >= 2 and t.lower() not in PARTICLES]
        if tokens:
            found.append(tokens)
    first: str | None = None
    last: str | None = None
    labelled: list[list[str]] = []
    for m in NAME_LABEL.finditer(text):
        label, value = m.group("label").lower(), m.group("value").strip()
        # a labelled value is a name even where it would not pass as one in a header line
        tokens = _name_tokens(value) or [t for t in re.split(r"[\s,]+", value) if _plausible_name_word(t)]
        if label in {"vorname", "vornamen", "first name"}:
            first = value
        elif label in {"nachname", "familienname", "zuname", "last name", "surname"}:
            last = value
        if tokens:
            labelled.append(tokens)
    if first and last:
        labelled.append([*first.split(), *last.split()])
    found.extend(labelled)
    if labelled:
        return found  # the CV says who it is: no guessing from the header
    for line in _header_lines(text):
        if NAME_LABEL.match(line):
            continue
        line = CV_TITLE_PREFIX.sub("", line.strip())
        for part in [line, *re.split(r"[|•·,\t]| [-–—] ", line)]:
            tokens = _name_tokens(part)
            if tokens:
                found.append(tokens)
                break
        else:
            continue
        break
    return found


def _fragment(word: str) -> str:
    """A regex for one name part that also matches its umlaut and accent spellings."""
    out: list[str] = []
    i = 0
    lower = word.lower()
    while i < len(word):
        pair = lower[i:i + 2]
        c = lower[i]
        if pair in {"ae", "oe", "ue"}:
            out.append(f"(?:{pair}|{'äöü'['aou'.index(pair[0])]})")
            i += 2
            continue
        if pair == "ss":
            out.append("(?:ss|ß)")
            i += 2
            continue
        if c in "äöü":
            base = "aou"["äöü".index(c)]
            out.append(f"(?:{c}|{base}e|{base})")
        elif c == "ß":
            out.append("(?:ß|ss)")
        elif c == "ı":
            out.append("(?:ı|i)")
        else:
            stripped = "".join(x for x in unicodedata.normalize("NFD", c) if not unicodedata.combining(x))
            out.append(f"(?:{re.escape(c)}|{re.escape(stripped)})" if stripped != c else re.escape(c))
        i += 1
    return "".join(out)


def _replace_names(text: str, names: list[list[str]], removed: Counter[str]) -> str:
    full: set[tuple[str, ...]] = set()
    parts: set[str] = set()
    for tokens in names:
        core = [t for t in tokens if t.lower() not in PARTICLES]
        full.add(tuple(tokens))
        if len(core) >= 2:
            full.add((core[-1] + ",", *core[:-1]))  # "Schmidt, Anna"
        for token in core:
            parts.add(token)
            pieces = [p for p in re.split(r"[-'’]", token) if len(p) >= 2]
            if len(pieces) > 1:
                parts.update(pieces)
        particle_surname = [t for t in tokens if t.lower() in PARTICLES]
        if particle_surname and core:
            full.add((*tokens[tokens.index(particle_surname[0]):],))  # "von Stein"
    if not full and not parts:
        return text
    alternatives = [r"\s+".join(_fragment(t.rstrip(",")) + ("," if t.endswith(",") else "") for t in name)
                    for name in full]
    alternatives += [_fragment(p) for p in parts]
    alternatives.sort(key=len, reverse=True)
    pattern = re.compile(rf"(?<![\w\[])(?:(?-i:[A-ZÄÖÜ])\.[ ]?)?(?:{'|'.join(alternatives)})(?:s|'s|’s)?(?![\w\]])",
                         re.IGNORECASE)
    single = {p.lower() for p in parts}

    def repl(m: re.Match[str]) -> str:
        word = m.group(0)
        bare = re.sub(r"^[A-ZÄÖÜ]\.[ ]?", "", word)
        bare_key = re.sub(r"(?:'s|’s)$", "", bare).lower()
        is_single = bare_key in single or (bare_key.endswith("s") and bare_key[:-1] in single)
        if is_single:
            key = bare_key if bare_key in single else bare_key[:-1]
            after = text[m.end(): m.end() + 20]
            before = text[max(0, m.start() - 25): m.start()]
            if key in MONTHS and _MONTH_AFTER_YEAR.match(after):
                return word  # "August 2019" is a date, not Mr August
            if len(key) == 2 and not bare[:1].isupper():
                return word  # two-letter parts ("Li", "Do") only as written
            as_word = (_JOB_CONTEXT_BEFORE.search(before) or _JOB_CONTEXT_AFTER.match(after) or bare[:1].islower())
            addressed = re.search(r"(?i)(?:herr|frau|hr\.|fr\.|dr\.)[ ]*$", before)
            if bare == word and _is_word_surname(key) and as_word and not addressed:
                return word  # "als Koch", "Koch (m/w/d)": the occupation, not the person
        removed["name"] += 1
        return PLACEHOLDERS["name"]

    return pattern.sub(repl, text)


def _replace_addressed(text: str, removed: Counter[str]) -> str:
    def repl(m: re.Match[str]) -> str:
        removed["name"] += 1
        words = m.group("name").split()
        last = words[-1]
        if len(words) > 1 and (is_job_word(last) or last.lower() in NOT_NAMES or looks_like_employer(last)
                               or heading_kind(last) is not None):
            return f"{m.group('title')} {PLACEHOLDERS['name']} {last}"  # "Herr Meier Stationsleitung"
        return f"{m.group('title')} {PLACEHOLDERS['name']}"

    return ADDRESSED.sub(repl, text)


def _is_word_surname(key: str) -> bool:
    return key in WORD_SURNAMES or any(key == _fold(w) for w in WORD_SURNAMES)


def _fold(word: str) -> str:
    return word.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss")
