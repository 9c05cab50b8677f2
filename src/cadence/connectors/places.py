"""Where a directory says someone works, in the words the org chart keeps: ``DE``, ``US-CA``, an
IANA time zone.

Directories say it their own way. Graph's ``usageLocation`` is an ISO code but its ``country``
is free text ("Germany", "United States"), and a mailbox's time zone is a Windows name ("W.
Europe Standard Time"), which Python's ``zoneinfo`` cannot read; Google's address carries a
``countryCode`` and its calendars IANA names. What cannot be made into the chart's form is left
empty and counted (:class:`Unfilled`), never guessed: a wrong country would count someone's
working day as a holiday.

The Windows names are mapped by :data:`WINDOWS_ZONES`, the CLDR ``windowsZones`` table's default
("001") zone of each Windows zone: no installed package ships that table, and it changes only
when Windows adds a zone.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from dataclasses import dataclass, field
from functools import cache

from cadence.orgchart import country_code, zone_name

# Windows zone id -> IANA (CLDR windowsZones.xml, territory 001), canonical IANA names.
WINDOWS_ZONES = {
    "Dateline Standard Time": "Etc/GMT+12",
    "UTC-11": "Etc/GMT+11",
    "Aleutian Standard Time": "America/Adak",
    "Hawaiian Standard Time": "Pacific/Honolulu",
    "Marquesas Standard Time": "Pacific/Marquesas",
    "Alaskan Standard Time": "America/Anchorage",
    "UTC-09": "Etc/GMT+9",
    "Pacific Standard Time (Mexico)": "America/Tijuana",
    "UTC-08": "Etc/GMT+8",
    "Pacific Standard Time": "America/Los_Angeles",
    "US Mountain Standard Time": "America/Phoenix",
    "Mountain Standard Time (Mexico)": "America/Mazatlan",
    "Mountain Standard Time": "America/Denver",
    "Yukon Standard Time": "America/Whitehorse",
    "Central America Standard Time": "America/Guatemala",
    "Central Standard Time": "America/Chicago",
    "Easter Island Standard Time": "Pacific/Easter",
    "Central Standard Time (Mexico)": "America/Mexico_City",
    "Canada Central Standard Time": "America/Regina",
    "SA Pacific Standard Time": "America/Bogota",
    "Eastern Standard Time (Mexico)": "America/Cancun",
    "Eastern Standard Time": "America/New_York",
    "Haiti Standard Time": "America/Port-au-Prince",
    "Cuba Standard Time": "America/Havana",
    "US Eastern Standard Time": "America/Indiana/Indianapolis",
    "Turks And Caicos Standard Time": "America/Grand_Turk",
    "Paraguay Standard Time": "America/Asuncion",
    "Atlantic Standard Time": "America/Halifax",
    "Venezuela Standard Time": "America/Caracas",
    "Central Brazilian Standard Time": "America/Cuiaba",
    "SA Western Standard Time": "America/La_Paz",
    "Pacific SA Standard Time": "America/Santiago",
    "Newfoundland Standard Time": "America/St_Johns",
    "Tocantins Standard Time": "America/Araguaina",
    "E. South America Standard Time": "America/Sao_Paulo",
    "SA Eastern Standard Time": "America/Cayenne",
    "Argentina Standard Time": "America/Argentina/Buenos_Aires",
    "Montevideo Standard Time": "America/Montevideo",
    "Magallanes Standard Time": "America/Punta_Arenas",
    "Saint Pierre Standard Time": "America/Miquelon",
    "Bahia Standard Time": "America/Bahia",
    "UTC-02": "Etc/GMT+2",
    "Azores Standard Time": "Atlantic/Azores",
    "Cape Verde Standard Time": "Atlantic/Cape_Verde",
    "UTC": "Etc/UTC",
    "GMT Standard Time": "Europe/London",
    "Greenwich Standard Time": "Atlantic/Reykjavik",
    "Sao Tome Standard Time": "Africa/Sao_Tome",
    "Morocco Standard Time": "Africa/Casablanca",
    "W. Europe Standard Time": "Europe/Berlin",
    "Central Europe Standard Time": "Europe/Budapest",
    "Romance Standard Time": "Europe/Paris",
    "Central European Standard Time": "Europe/Warsaw",
    "W. Central Africa Standard Time": "Africa/Lagos",
    "Jordan Standard Time": "Asia/Amman",
    "GTB Standard Time": "Europe/Bucharest",
    "Middle East Standard Time": "Asia/Beirut",
    "Egypt Standard Time": "Africa/Cairo",
    "E. Europe Standard Time": "Europe/Chisinau",
    "Syria Standard Time": "Asia/Damascus",
    "West Bank Standard Time": "Asia/Hebron",
    "South Africa Standard Time": "Africa/Johannesburg",
    "FLE Standard Time": "Europe/Kyiv",
    "Israel Standard Time": "Asia/Jerusalem",
    "South Sudan Standard Time": "Africa/Juba",
    "Kaliningrad Standard Time": "Europe/Kaliningrad",
    "Sudan Standard Time": "Africa/Khartoum",
    "Libya Standard Time": "Africa/Tripoli",
    "Namibia Standard Time": "Africa/Windhoek",
    "Arabic Standard Time": "Asia/Baghdad",
    "Turkey Standard Time": "Europe/Istanbul",
    "Arab Standard Time": "Asia/Riyadh",
    "Belarus Standard Time": "Europe/Minsk",
    "Russian Standard Time": "Europe/Moscow",
    "E. Africa Standard Time": "Africa/Nairobi",
    "Volgograd Standard Time": "Europe/Volgograd",
    "Iran Standard Time": "Asia/Tehran",
    "Arabian Standard Time": "Asia/Dubai",
    "Astrakhan Standard Time": "Europe/Astrakhan",
    "Azerbaijan Standard Time": "Asia/Baku",
    "Russia Time Zone 3": "Europe/Samara",
    "Mauritius Standard Time": "Indian/Mauritius",
    "Saratov Standard Time": "Europe/Saratov",
    "Georgian Standard Time": "Asia/Tbilisi",
    "Caucasus Standard Time": "Asia/Yerevan",
    "Afghanistan Standard Time": "Asia/Kabul",
    "West Asia Standard Time": "Asia/Tashkent",
    "Ekaterinburg Standard Time": "Asia/Yekaterinburg",
    "Pakistan Standard Time": "Asia/Karachi",
    "India Standard Time": "Asia/Kolkata",
    "Sri Lanka Standard Time": "Asia/Colombo",
    "Nepal Standard Time": "Asia/Kathmandu",
    "Bangladesh Standard Time": "Asia/Dhaka",
    "Omsk Standard Time": "Asia/Omsk",
    "Myanmar Standard Time": "Asia/Yangon",
    "SE Asia Standard Time": "Asia/Bangkok",
    "Altai Standard Time": "Asia/Barnaul",
    "W. Mongolia Standard Time": "Asia/Hovd",
    "North Asia Standard Time": "Asia/Krasnoyarsk",
    "N. Central Asia Standard Time": "Asia/Novosibirsk",
    "Tomsk Standard Time": "Asia/Tomsk",
    "China Standard Time": "Asia/Shanghai",
    "North Asia East Standard Time": "Asia/Irkutsk",
    "Singapore Standard Time": "Asia/Singapore",
    "W. Australia Standard Time": "Australia/Perth",
    "Taipei Standard Time": "Asia/Taipei",
    "Ulaanbaatar Standard Time": "Asia/Ulaanbaatar",
    "Aus Central W. Standard Time": "Australia/Eucla",
    "Transbaikal Standard Time": "Asia/Chita",
    "Tokyo Standard Time": "Asia/Tokyo",
    "North Korea Standard Time": "Asia/Pyongyang",
    "Korea Standard Time": "Asia/Seoul",
    "Yakutsk Standard Time": "Asia/Yakutsk",
    "Cen. Australia Standard Time": "Australia/Adelaide",
    "AUS Central Standard Time": "Australia/Darwin",
    "E. Australia Standard Time": "Australia/Brisbane",
    "AUS Eastern Standard Time": "Australia/Sydney",
    "West Pacific Standard Time": "Pacific/Port_Moresby",
    "Tasmania Standard Time": "Australia/Hobart",
    "Vladivostok Standard Time": "Asia/Vladivostok",
    "Lord Howe Standard Time": "Australia/Lord_Howe",
    "Bougainville Standard Time": "Pacific/Bougainville",
    "Russia Time Zone 10": "Asia/Srednekolymsk",
    "Magadan Standard Time": "Asia/Magadan",
    "Norfolk Standard Time": "Pacific/Norfolk",
    "Sakhalin Standard Time": "Asia/Sakhalin",
    "Central Pacific Standard Time": "Pacific/Guadalcanal",
    "Russia Time Zone 11": "Asia/Kamchatka",
    "New Zealand Standard Time": "Pacific/Auckland",
    "UTC+12": "Etc/GMT-12",
    "Fiji Standard Time": "Pacific/Fiji",
    "Chatham Islands Standard Time": "Pacific/Chatham",
    "UTC+13": "Etc/GMT-13",
    "Tonga Standard Time": "Pacific/Tongatapu",
    "Samoa Standard Time": "Pacific/Apia",
    "Line Islands Standard Time": "Pacific/Kiritimati",
}
_WINDOWS_BY_LOWER = {name.lower(): zone for name, zone in WINDOWS_ZONES.items()}

# Names people write that are not the holidays package's English names of the country.
_COUNTRY_WORDS = {
    "uk": "GB",
    "greatbritain": "GB",
    "britain": "GB",
    "england": "GB-ENG",
    "scotland": "GB-SCT",
    "wales": "GB-WLS",
    "northernireland": "GB-NIR",
    "america": "US",
    "unitedstatesofamerica": "US",
}
_CODE = re.compile(r"[A-Za-z]{2}(?:-[A-Za-z0-9]+)?")


def _word(text: str) -> str:
    """A country's name as one lower-case word of ASCII letters: "Côte d'Ivoire" -> cotedivoire."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z]", "", plain.lower())


@cache
def _country_names() -> dict[str, str]:
    """Lower-case names and alpha-3 codes of the holidays package's countries -> alpha-2."""
    import holidays

    names = dict(_COUNTRY_WORDS)
    # The registry names each country's class after its English name ("UnitedStates").
    for entry in getattr(holidays.registry, "COUNTRIES", {}).values():
        class_name, alpha2, *more = entry
        names.setdefault(_word(class_name), alpha2)
        for code in more:
            if len(code) == 3 and code.isupper():
                names.setdefault(code.lower(), alpha2)
    return names


def country_of(text: str | None, region: str | None = None) -> str | None:
    """The chart's country (``DE``, ``US-CA``) for a directory's code or English name, with the
    subdivision when ``region`` is one of its codes (a Google address's ``region``, Graph's
    ``state``); ``None`` when it names no country the holidays package knows."""
    if not text or not text.strip():
        return None
    value = text.strip()
    code: str | None = None
    if _CODE.fullmatch(value):
        try:
            code = country_code(value)
        except ValueError:
            code = None
    if code is None:
        code = _country_names().get(_word(value))
    if code is None:
        return None
    if region and "-" not in code:
        try:
            return country_code(f"{code}-{region.strip()}")
        except ValueError:
            pass  # a region's name or a code the package does not know: the country alone
    return code


def iana_zone(text: str | None) -> str | None:
    """The IANA zone for an IANA or Windows zone name; ``None`` for any other."""
    if not text or not text.strip():
        return None
    value = text.strip()
    windows = _WINDOWS_BY_LOWER.get(value.lower())
    try:
        return zone_name(windows or value)
    except ValueError:
        return None


@dataclass
class Unfilled:
    """Why a directory left people without a country or a time zone: for each reason, the
    emails of those people and what the directory said, if anything."""

    country: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    timezone: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # The time zones are read by several threads at once.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, what: str, reason: str, email: str, said: str | None = None) -> None:
        found = self.country if what == "country" else self.timezone
        with self._lock:
            found.setdefault(reason, []).append((email, (said or "").strip()))

    def count(self, what: str) -> int:
        found = self.country if what == "country" else self.timezone
        return sum(len(people) for people in found.values())
