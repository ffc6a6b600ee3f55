"""What a question asks for: the asker's own figures, a policy, both, a greeting or help.

Rules over the text, cheap and predictable. Anything that is not clearly a greeting, help or a
purely personal lookup goes to policy search, where a calibrated confidence decides whether there
is an answer at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

Topic = str  # "balance" | "requests" | "holidays"

_GREETING = re.compile(
    r"^\s*(hi|hello|hey|hiya|howdy|yo|good\s+(morning|afternoon|evening)|thanks|thank\s+you|thx|ty|cheers)"
    r"([\s,!.]+(there|hrbot|bot|team|all|so\s+much|a\s+lot))*[\s!.:)]*$",
    re.IGNORECASE,
)
_HELP = re.compile(
    r"^\s*(help|\?|commands|what\s+can\s+you\s+do|how\s+do(es)?\s+(this|you|it)\s+work|who\s+are\s+you)\b",
    re.IGNORECASE,
)
_FIRST_PERSON = re.compile(r"\b(i|me|my|mine|i'?ve|i'?m|i'?d|myself)\b", re.IGNORECASE)
_THIRD_PERSON_ASK = re.compile(
    r"\b(does|did|has|is|will|can)\s+(?P<name>[A-Z][\w'-]+(?:\s+[A-Z][\w'-]+)?)\s+(have|got|get|take|taken|used|left|"
    r"booked|requested|on)\b"
)
_POSSESSIVE = re.compile(r"\b(?P<name>[A-Z][\w-]+(?:\s+[A-Z][\w-]+)?)['\u2019]s\b")
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>|<at>[^<]+</at>|[\w.+-]+@[\w-]+\.[\w.-]+", re.IGNORECASE)

_LEAVE_NOUN = re.compile(
    r"\b(days?|hours?|vacation|pto|leave|holiday\s+allowance|time[- ]off|sick|balances?|allowance|entitlement|"
    r"annual\s+leave|toil|days?\s+off)\b",
    re.IGNORECASE,
)
_BALANCE = re.compile(
    r"\b(left|remaining|remain|balances?|available|accrued|carried\s+over|taken|used|still\s+have|have\s+i\s+got)\b",
    re.IGNORECASE,
)
_MY_BALANCE = re.compile(r"\bmy\s+(\w+\s+){0,2}(balance|allowance|entitlement)\b", re.IGNORECASE)
_HOW_MUCH_HAVE = re.compile(
    r"\bhow\s+(many|much)\b.*\b(do|does|have|did)\b.*\b(have|got|take|taken|use|used)\b", re.IGNORECASE
)
_REQUESTS = re.compile(
    r"\b(my|i|does|has|have)\b.*(\brequests?\b|\bpending\b|\bbooked\b|\bupcoming\s+(leave|time\s+off|vacation|pto)\b|"
    r"\b(leave|vacation|pto|time\s+off|holiday)\b.*\bapproved\b)",
    re.IGNORECASE,
)
_HOLIDAYS = re.compile(r"\b(next|upcoming|coming)\b.*\b(public|bank|national)?\s*holidays?\b", re.IGNORECASE)
_HOLIDAY_LIST = re.compile(r"\b(public|bank|national)\s+holidays?\b.*\b(this|next|coming)\b", re.IGNORECASE)
# a clause that asks what a policy says ("... and can I carry it over?")
_POLICY_CUE = re.compile(
    r"\b(can\s+i|could\s+i|may\s+i|am\s+i\s+allowed|do\s+i\s+need|should\s+i|how\s+do\s+i|what\s+happens|"
    r"policy|policies|rules?|carry(ing)?\s+(it\s+|them\s+|days\s+|pto\s+|vacation\s+)?(over|forward|into)|"
    r"expire|expires|paid\s+out|payout|entitled\s+to|how\s+many\s+\w+\s+(do|does)\s+\w+\s+get|is\s+there|are\s+there)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Intent:
    greeting: bool = False
    help: bool = False
    topics: frozenset[Topic] = frozenset()
    policy: bool = True
    # who else the question may name, as typed: (text, certain); a possessive ("Anna's") is uncertain
    # until it matches a name in the directory, a mention, an email or "does Anna have" is certain
    mentions: tuple[tuple[str, bool], ...] = field(default_factory=tuple)

    @property
    def personal(self) -> bool:
        return bool(self.topics)


def classify(text: str) -> Intent:
    if _GREETING.match(text):
        return Intent(greeting=True, policy=False)
    if _HELP.match(text):
        return Intent(help=True, policy=False)
    mentions = tuple(others_named(text))
    about_someone = bool(mentions) or bool(_FIRST_PERSON.search(text))
    topics: set[Topic] = set()
    if about_someone and _asks_balance(text):
        topics.add("balance")
    if about_someone and _REQUESTS.search(text):
        topics.add("requests")
    if _HOLIDAYS.search(text) or _HOLIDAY_LIST.search(text):
        topics.add("holidays")
    if not topics:
        return Intent(policy=True, mentions=mentions)
    policy = bool(_POLICY_CUE.search(_without_personal_clause(text)))
    return Intent(topics=frozenset(topics), policy=policy, mentions=mentions)


_NOT_NAMES = frozenset(
    [
        "what",
        "what's",
        "that",
        "it",
        "there",
        "here",
        "who",
        "where",
        "when",
        "how",
        "let",
        "he",
        "she",
        "they",
        "this",
        "today",
        "tomorrow",
    ]
)


def others_named(text: str) -> list[tuple[str, bool]]:
    """Names, mentions and emails that may point at a person other than the asker."""
    found = [(m.group(0), True) for m in _MENTION.finditer(text)]
    found += [(m.group("name"), True) for m in _THIRD_PERSON_ASK.finditer(text)]
    found += [(m.group("name"), False) for m in _POSSESSIVE.finditer(text)]
    seen: dict[str, bool] = {}
    for name, certain in found:
        if name.split()[0].lower() not in _NOT_NAMES:
            seen[name] = seen.get(name, False) or certain
    return list(seen.items())


def _asks_balance(text: str) -> bool:
    if _MY_BALANCE.search(text):
        return True
    if not _LEAVE_NOUN.search(text) or _asks_entitlement(text) or _POLICY_OPENING.match(text):
        return False
    return bool(_BALANCE.search(text) or _HOW_MUCH_HAVE.search(text))


# "can i split my leave ... taken all at once" asks about a rule, not about the asker's figures
_POLICY_OPENING = re.compile(
    r"^\s*(can|could|may|should|must|do|does|is|are|what\s+happens|who|where|why)\b(?!.*\b(left|remaining|balance|still\s+have)\b)",
    re.IGNORECASE,
)


def _asks_entitlement(text: str) -> bool:
    """ "how many vacation days do I get in Germany" asks what the policy grants, not a balance."""
    lowered = text.lower()
    return bool(re.search(r"\b(do|does|would|will)\s+\w+\s+get\b|\bentitled\s+to\b", lowered)) and not re.search(
        r"\b(left|remaining|balance)\b", lowered
    )


def _without_personal_clause(text: str) -> str:
    """The part after "and"/"," that follows a personal question, or the whole text."""
    parts = re.split(r"\?\s+|\band\b|,|;", text, maxsplit=1)
    return parts[1] if len(parts) == 2 else ""
