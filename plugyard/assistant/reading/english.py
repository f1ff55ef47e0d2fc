"""The topic of an English request: cue patterns per intent capture the subject, then the capture is
cleaned of determiners, politeness, meta-words and dangling prepositions. Times are already removed."""

from __future__ import annotations

import re

from .exams import named_exam
from .spans import cleaning_notes

_I = re.I
_END = (
    r"(?=$|[,.;:!?()\n]| but | so | because | since | when | while | and (?:i|still|then|now)\b| which | that i "
    r"| as i | how (?:should|do|can|would) i\b| and (?:nothing|everything|we|they|it's|it is|there|every|haven't|"
    r"have not|can't|don't)\b)"
)

_POLITE = re.compile(
    r"\b(?:please|pls|plz|kindly|thanks?(?: you)?(?: so much| a lot)?|thx|help!|i beg you|asap)\b|\bhelp\s*$", _I
)
_LEADING = re.compile(
    r"^(?:(?:(?:a|an|the|some)\s+)?(?:(?:solid|good|real|better|deep|deeper|clear|basic|proper|intuitive|daily|weekly|"
    r"structured|simple)\s+)*(?:(?:practice|training|drill|study|workout|revision)\s+)?(?:intuition|understanding|"
    r"grasp|feel|sense|routine|plan|schedule|program|programme|regimen|drills?|exercises?|roadmap|curriculum)\s+"
    r"(?:for|of|on|to)\s+|(?:be\s+)?able\s+to\s+|"
    r"(?:my|the|a|an|our|your|his|her|their|some|this|that|these|those|it|its|me|us|up|about|on|of|for|to|"
    r"deeply|in depth|in-depth|really|thoroughly|properly|fully|truly|actually|finally|eli5|"
    r"with|in|into|at|all|whole|entire|upcoming|coming|first-ever|mainly|mostly|especially|particularly|"
    r"(?:the )?(?:job|task|process|work) of|(?:get )?rid of|(?:it )?covers|"
    r"\d+(?:-| )(?:page|word|minute|hour|day|week)s?)\s+)+",
    _I,
)
_TRAILING = re.compile(
    r"(?:\s+(?:deeply|in depth|in-depth|really|properly|thoroughly|fully|completely|well|better|more|again|now|"
    r"step by step|step-by-step|from the ground up|from scratch|from first principles|in detail|in full|end to end|"
    r"actually|finally|at last|under the hood|for me|for us|for (?:my|our|the) \w+|"
    r"for (?:[A-Z]\w*|mom|dad|mum)'s \w+|for (?:my|our|his|her|their) \w+'s \w+|for \d+ people|skills?|"
    r"lol|lmao|haha|omg|ugh|tbh|ngl|over time|going forward|(?:clear |straight )?in my head|under|over|around|"
    r"abilit(?:y|ies)|project|preparation|prep|planning|stuff|things?|topics?|concepts?|for|by|on|in|at|to|of|"
    r"before|with|into|about|and|or|it|them|this|that|please|too|quickly|fast|asap|properly|then|"
    r"first|once and for all|in simple terms|simply|like i'?m five|eli5|exactly|precisely|anyway|"
    r"a bit|a little|myself|on my own|renewed|fixed|done|sorted|finished|approved|signed|like (?:a|an|i'?m|you'?re) .*|"
    r"to (?:me|us|him|her|them|(?:a|my|our) \w+(?: and me)?)|"
    r"at an? (?:deep|deeper|high|basic|fundamental|conceptual|intuitive|gut|real) level|\w+ly)\b)+\s*$",
    _I,
)
_TASK_VERBS = re.compile(
    r"^(?:(?:clean|clear|tidy|sort|pack|fix|paint|buy|sell|book|find|hire|install|migrate|upgrade|update|refactor|"
    r"translate|record|edit|film|open|manage|apply for|register for|sign up for|read|study|learn|redecorate)(?:ing)?"
    r"(?: out| up| through)?|move(?: out| up)?|(?:approach|go about|handle)(?: \w+ing\b)?(?: out| up| through)?|"
    r"write|writing|finish|finishing|complete|completing|build|building|make|making|"
    r"create|creating|do|doing|"
    r"organi[sz]e|organi[sz]ing|plan|planning|submit|submitting|publish|publishing|launch|launching|set up|"
    r"setting up|renovate|renovating|prepare|preparing|develop|developing|design|designing|start|starting|"
    r"deliver|delivering|ship|shipping|host|hosting|throw|throwing|arrange|arranging|file|filing|get|getting|"
    r"put together|putting together|run|running|redo|rewrite|rewriting|tackle|tackling)\s+(?!of\b)",
    _I,
)
_SKILL_VERBS = re.compile(
    r"^(?:improve|improving|practi[cs]e|practi[cs]ing|train|training|work on|level up|sharpen|get better at|"
    r"get good at|become better at|learn(?: how)?(?: to)?|master|build)\s+",
    _I,
)
_STOP = {
    "i", "i'm", "im", "i've", "i'd", "me", "my", "we", "our", "you", "your", "the", "a", "an", "have", "has", "had",
    "got", "get", "getting", "for", "to", "on", "at", "with", "is", "are", "was", "it", "its", "it's", "this",
    "that", "next", "upcoming", "pass", "passing", "sit", "sitting", "take", "taking", "ace", "study", "studying",
    "prepare", "preparing", "prep", "revise", "revising", "cram", "cramming", "ready", "help", "need", "want",
    "final", "midterm", "big", "important", "huge", "massive", "major", "scary", "dreaded", "so", "and", "of",
    "about", "how", "should", "can", "could", "what",
    "do", "does", "make", "plan", "please", "quiz", "upon", "s", "am", "would", "like", "some", "hard", "tough",
}  # fmt: skip

# A subject never starts with a pronoun ("how do they work"): the candidate is passed over for the next.
_PRONOUN = re.compile(
    r"^(?:(?:do|does|did|is|are|was|were|can|could|would|will|should) )?"
    r"(?:they|them|it|he|she|we|you|i|every|each|there|someone|something|everything|everyone|everybody|"
    r"people|nobody|anyone|(?:two|three|four|both|all|each|some|most) of (?:us|them|you))(?=\s|$)",
    _I,
)

_META = {
    "it",
    "them",
    "this",
    "that",
    "get",
    "organise",
    "organize",
    "do",
    "start",
    "plan",
    "happens",
    "mechanism",
    "concept",
    "idea",
    "theory",
    "basics",
    "thing",
    "things",
    "stuff",
    "everything",
    "something",
    "more",
    "details",
    "explanation",
    "work",
    "process",
    "whole thing",
    "whole",
    "all",
}

# Verbs that end the subject of "how does X ..." / "how X ...": the subject is what stands before one.
_VERBS = (
    "work happen form learn exist matter mean behave handle create allow make cause produce stay fly run converge "
    "scale hold fail float sink turn change grow move burn fall rise spin shine decay evolve expand travel vary stop "
    "start need use require look feel sound cost take give keep become get go come die live breathe attract repel "
    "bend break conduct compile return print crash loop hang store send receive find choose decide know predict "
    "measure protect kill spread infect heal absorb reflect emit react bond split merge sort search encrypt "
    "decrypt compress render parse execute interpret optimize optimise communicate connect transmit route "
    "resolve cache replicate teach trigger generate regulate digest "
    "fit win lose help affect influence lead end begin survive adapt reproduce appear "
    "differ compare relate apply solve prove stick melt freeze boil orbit rotate spin collide glow "
    "develop progress occur arise function operate"
).split()
_VERB_FORMS = "|".join(
    sorted(
        {v for v in _VERBS}
        | {v + ("es" if v.endswith(("s", "sh", "ch", "x")) else "s") for v in _VERBS}
        | {v[:-1] + "ies" for v in _VERBS if v.endswith("y") and v[-2] not in "aeiou"},
        key=len,
        reverse=True,
    )
)

# Per intent, in priority order: a pattern whose group "x" is the subject, and whether the subject is
# what comes before the cue (True: keep the longest tail of it free of stop words) or after it.
Pattern = tuple[re.Pattern[str], bool]


def _p(pattern: str, before: bool = False) -> Pattern:
    return re.compile(pattern, _I), before


_EXAM = r"(?:final exams?|finals?|midterms?|mid-terms?|exams?|examinations?|tests?|quiz(?:zes)?|mock exams?)"
PATTERNS: dict[str, list[Pattern]] = {
    "exam_preparation": [
        _p(rf"(?P<x>[\w'&+./-]+(?: [\w'&+./-]+)*?) {_EXAM}\b", before=True),
        _p(rf"\b{_EXAM} (?:in|on|about|for|of|covering) (?P<x>.+?){_END}"),
        _p(rf"\b(?:cram|revise|revising|prepare|preparing|prep|study|studying|ready|revision)(?: me)? for "
           rf"(?P<x>.+?){_END}"),
        _p(rf"\bquiz me (?:on|about|for) (?P<x>.+?){_END}"),
        _p(rf"\b(?:plan|schedule|timetable) for (?P<x>.+?){_END}"),
        _p(rf"\b(?:pass|ace|sit|take|sitting|taking) (?P<x>.+?){_END}"),
    ],
    "task_decomposition": [
        # "thesis literature review due in 10 days": what is due
        _p(r"^(?P<x>[\w'&+./-]+(?: [\w'&+./-]+){0,5}?) (?:is |are )?due\b"),
        _p(r"\b(?:break|split|turn|divide|decompose|organi[sz]e|chop|chunk|cut|convert|structure)(?: down| up)? "
           r"(?P<x>.+?)(?: down| up)? into\b"),
        _p(rf"\b(?:break|split|chop) (?:down|up) (?P<x>.+?){_END}"),
        _p(rf"\b(?:in charge of|responsible for|tasked with|dealing with|deal with) (?P<x>.+?){_END}"),
        _p(rf"\b(?:steps|tasks|phases|stages|plan|checklist|to-do list|todo list|roadmap|milestones) "
           rf"(?:to|for|of) (?P<x>.+?){_END}"),
        _p(rf"\b(?:plan|planning|schedule|map) (?:out )?(?!(?:it|them|this|that)\b)(?P<x>.+?)(?: into\b.*)?{_END}"),
        _p(rf"\b(?:we're|we are|i'm|i am) (?:hosting|running|organi[sz]ing|throwing|planning|launching) "
           rf"(?P<x>.+?){_END}"),
        _p(rf"\b(?:need to|have to|must|want to|got to|going to|trying to|plan to|hoping to|supposed to|asked to|"
           rf"told to|promised (?:to|(?:we|i)'d|(?:we|i) would)) "
           rf"(?P<v>[a-z]+(?: out| up| down| off| through| together)?) (?P<x>.+?){_END}"),
        _p(rf"\b(?:how do i|how to|how can i|how should i|where do i start with) (?P<x>.+?){_END}"),
        # "My family is relocating to Canada": what someone is in the middle of doing is the task
        _p(rf"\b(?:we're|we are|i'm|i am|(?:my|our) \w+ (?:is|are)) (?!(?:trying|going|hoping|looking|struggling|"
           rf"starting|thinking|about)\b)(?P<x>\w+ing\b.+?){_END}"),
        # "moving to a new apartment at the end of the month": an activity said first
        _p(rf"^(?!(?:trying|going|hoping|looking|struggling|thinking|wondering|feeling|getting|during|morning|evening|"
           rf"\w*thing|spring|string|ring|king|bring|sing|nothing|being)\b)"
           rf"(?P<x>[a-z]+ing\b.+?){_END}"),
    ],
    "deep_learning": [
        _p(rf"\b(?:(?:concept|intuition|idea|logic|mechanism|principles?) (?:of|behind|for)|(?:theory|maths?) behind) "
           rf"(?P<x>.+?){_END}"),
        _p(rf"\b(?:deep[- ]dive|dive|look) (?:into|at|on) (?P<x>.+?){_END}"),
        _p(rf"\b(?:understanding|explanation|overview|picture) of (?P<x>.+?){_END}"),
        _p(rf"\bhappening when (?:a |an |the )?(?P<x>.+?) (?:takes place|happens|occurs|runs){_END}"),
        _p(rf"\b(?:happens?|going on|goes on) (?:during|in|inside|when|with) (?P<x>.+?)(?: (?:{_VERB_FORMS}))?{_END}"),
        _p(rf"\bunder the hood of (?P<x>.+?){_END}"),
        _p(rf"\b(?:how|why) (?:does|do|did|is|are|can|could|would|will) (?P<x>.+?) (?:really |actually |even |not )?"
           rf"(?:{_VERB_FORMS})\b(?P<tail> in [A-Z][\w+#.]*)?"),
        # the verb that ends the clause first ("how BGP route selection works,": route is a verb too)
        _p(rf"\bhow (?:come )?(?P<x>(?:(?!\b(?:works?|happens?)\b).)+?) (?:really |actually )?(?:{_VERB_FORMS}){_END}"),
        _p(rf"\bhow (?:come )?(?P<x>.+?) (?:really |actually )?(?:{_VERB_FORMS})\b"),
        _p(rf"\b(?:keep hearing|kept hearing|heard|hearing|read|reading|know nothing|(?:keeps?|kept) talking|"
           rf"talks?|talking) about (?P<x>.+?){_END}"),
        _p(rf"\b(?:walk|take|talk|run) me through (?P<x>.+?){_END}"),
        _p(rf"\b(?:understand|understood|grasp|get|got|explain|explained|explains|master|learn about|learn|"
           rf"comprehend|figure out|"
           rf"wrap my head around|"
           rf"confused about|confused by|read about|teach me|tell me about|never understood|don't understand|"
           rf"do not understand|don't get|struggle with|struggling with|stuck on|clarify|demystify|"
           rf"keep failing to get|can't get|cannot get) (?P<x>.+?){_END}"),
        # The subject first, then what it does to the learner: "Recursion confuses me."
        _p(r"(?P<x>[\w'&+./-]+(?: [\w'&+./-]+)*?) (?:still |really |always |just )?"
           r"(?:confuses|confused|baffles|puzzles|"
           r"eludes|loses|trips up|escapes) (?:me|us)\b", before=True),
        _p(r"(?P<x>[\w'&+./-]+(?: [\w'&+./-]+)*?) (?:is|are) (?:still |so |really |very |just )?(?:confusing|baffling|"
           r"beyond me|a mystery to me|over my head)\b", before=True),
        _p(rf"\bwhat (?P<x>(?:a|an|the) .+?) (?:is|are|means|does)(?:{_END}|$)"),
        _p(r"\bwhat makes (?P<x>.+?) (?:so )?(?:special|different|unique|important|hard|useful|possible|work|tick)\b"),
        _p(rf"\bwhat(?: (?:really|actually|exactly))?(?: is|'s| are) (?:really |actually |exactly )?(?P<x>.+?){_END}"),
        # "I've memorized the circle of fifths but it doesn't click": what was learnt without being understood
        _p(rf"\b(?:memori[sz]ed|learned|learnt|studied|know|read up on) (?P<x>.+?){_END}"),
    ],
    "skill_building": [
        _p(rf"\b(?:habit|routine) of (?P<x>.+?){_END}"),
        _p(rf"\bbecome a (?:better|good|great|stronger) (?P<x>.+?) (?:player|speaker|writer|runner|cook){_END}"),
        _p(rf"\bskills? (?:in|at|with|for) (?P<x>.+?){_END}"),
        _p(rf"\b(?:get|getting|become|be|feel) (?:much |a lot |way |more |a bit |somewhat |fairly |reasonably |"
           rf"pretty |really )?(?:better|good|great|faster|fluent|conversational|proficient|competent|decent|"
           rf"confident|comfortable|stronger|quicker|skilled|skillful|relaxed|natural) (?:at|in|with|during) "
           rf"(?P<x>.+?){_END}"),
        _p(rf"\bwhat (?:drills|exercises|practice|habits) (?:will|would|can|could) (?:make|improve|help|fix) "
           rf"(?P<x>.+?)(?: (?:better|neater|faster|stronger|clearer))?{_END}"),
        _p(rf"\b(?:improve|improving|practi[cs]e|practi[cs]ing|train|training|work on|level up|sharpen|polish|"
           rf"hone|boost|strengthen|develop|build up|brush up on|drill) (?P<x>.+?){_END}"),
        _p(rf"\b(?:learn|learning) (?:how )?(?:to )?(?P<x>.+?){_END}"),
        _p(rf"\b(?:be able to|get into|getting into) (?P<x>.+?){_END}"),
        _p(rf"\b(?:teach|coach|train|help) me (?:how )?(?:to )?(?P<x>.+?){_END}"),
        _p(r"\bwant (?:my|our) (?P<x>.+?) to (?:be|look|get|sound|feel|become)\b"),
        # The skill first, then how it goes: "My public speaking is terrible."
        _p(r"\b(?:my|our) (?P<x>.+?) (?:is|are) (?:still |really |so |very |pretty |kind of |just )?(?:terrible|bad|"
           r"awful|weak|poor|rusty|shaky|slow|inconsistent|horrible|sloppy|messy|clumsy|stiff|stuck|a mess|"
           r"not (?:great|good|improving))\b"),
    ],
}  # fmt: skip


def _tail_free_of_stop_words(text: str) -> str:
    words = text.split()
    kept: list[str] = []
    for word in reversed(words):
        if word.lower().strip(",.") in _STOP:
            break
        kept.append(word)
    return " ".join(reversed(kept))


def clean(text: str) -> str:
    """A captured subject without what is not the subject."""
    text = _POLITE.sub(" ", text)
    text = " " + re.sub(r"\s+", " ", text).strip(" ,.;:!?'\"-")
    for _ in range(3):
        before = text
        text = _TRAILING.sub("", text).strip(' ,.;:!?"-')
        text = _LEADING.sub("", text).strip()
        text = _TRAILING.sub("", " " + text).strip(' ,.;:!?"-')
        text = re.sub(r"\s+into\b.*$", "", text, flags=_I)
        # a comment after the subject: "incompleteness theorems without hand-waving", "SQL well enough for an
        # interview", "a podcast and no one has a clue"
        text = re.sub(r"\s+(?:without|well enough|and no ?one|and nobody|and none of us|for (?:work|fun|school)$|"
                      r"in (?:my|our|the|what) "
                      r"(?:little )?(?:spare|free) time)\b.*$", "", text, flags=_I)  # fmt: skip
        text = re.sub(r"\s+(?:before|by|until|till|so that|so|because|since|when|while|and then|, and)\b.*$", "",
                      text, flags=_I)  # fmt: skip
        if text == before:
            break
    return "" if text.lower() in _META else text


# A word right before a determiner is a verb ("redesigning the company website"), unless it is one of these.
_ANY_VERB = re.compile(
    r"^(?!(?:of|for|about|to|in|on|at|by|with|from|into|and|or|all|both|half|like|than|what|which|whether|is|are|"
    r"was|were)\s)([a-z]+)\s+(?=(?:the|a|an|my|our|their|his|her|this|these|those|some)\s)"
)
# Where a task's object goes is not the object: "an Android app on the Play Store", "the office to Berlin".
_PLATFORM = re.compile(r"\s+(?:on|at|to) (?:the )?[A-Z][\w-]*(?: [A-Z][\w-]*)*$")


def _verb_free(text: str, intent: str) -> tuple[str, str | None]:
    """The subject without a leading task or skill verb, and that verb ("renovate the kitchen": kitchen)."""
    pattern = _TASK_VERBS if intent == "task_decomposition" else _SKILL_VERBS if intent == "skill_building" else None
    if pattern is None:
        return text, None
    m = pattern.match(text)
    if m is None and intent == "task_decomposition":
        m = _ANY_VERB.match(text)
    if m is not None and intent == "task_decomposition":
        rest = _PLATFORM.sub("", clean(text[m.end() :]))
        if not rest and text[m.end() :].strip():
            return "", None  # a verb and a meta-word ("structure the work"): no subject here
        return (rest, m[0].strip()) if rest else (text, None)
    if m is None or (intent == "skill_building" and not m[0].lower().startswith(("get", "become", "learn"))):
        return text, None
    rest = clean(text[m.end() :])
    return (rest, m[0].strip()) if rest else (text, None)


def _read(clauses: list[str], intent: str) -> tuple[str, str | None] | None:
    for pattern, before in PATTERNS.get(intent, []):
        for clause in clauses:
            for m in pattern.finditer(clause):
                raw = m["x"]
                if before:
                    raw = _tail_free_of_stop_words(raw)
                if "tail" in pattern.groupindex and m["tail"]:
                    raw += m["tail"]
                found = clean(raw)
                if "v" in pattern.groupindex and found:
                    # After "need to", "have to"...: the first word is the verb, the rest its object.
                    return _PLATFORM.sub("", found), m["v"]
                if intent == "deep_learning" and re.match(r"(?i)(how|why|what)\b", found):
                    nested = _read([found], intent)
                    if nested is not None and nested[0].lower() != found.lower():
                        return nested
                if intent == "skill_building":
                    nested_skill = _SKILL_VERBS.match(found)
                    if nested_skill and not nested_skill[0].lower().startswith(("learn", "build")):
                        found = clean(found[nested_skill.end() :]) or found
                found, verb = _verb_free(found, intent)
                if found and found.lower() not in _STOP and len(found) <= 80 and not _PRONOUN.match(found):
                    return found, verb
    return None


def clauses_of(text: str) -> list[str]:
    parts = re.split(r"[\n.;!?—–]+|,\s+|\s+-\s+", text)
    return [p.strip()[:300] for p in parts if p.strip()]  # a clause longer than 300 characters is no request


_GREETINGS = {"hi", "hello", "hey", "ok", "okay", "so", "well", "yes", "no", "sorry", "urgent", "question", "quick",
              "ugh", "hmm", "guys", "everyone", "folks", "there", "morning", "evening", "again"}  # fmt: skip

_FALLBACK_DROP = _STOP | _GREETINGS | {
    "break", "down", "tasks", "task", "steps", "step", "explain", "understand", "learn", "practise", "practice",
    "improve", "better", "deeply", "really", "exam", "test", "into", "manageable", "in", "depth", "why", "is",
    "there", "way", "there's", "help", "want", "need", "tell", "teach", "show", "give", "guide", "thing", "but",
}  # fmt: skip


def fallback(text: str) -> str:
    """The longest run of words that are neither stop words nor cue words."""
    best: list[str] = []
    for clause in clauses_of(text):
        run: list[str] = []
        for word in [*clause.split(), ""]:
            if word and word.lower().strip(",.'\"") not in _FALLBACK_DROP:
                run.append(word)
                continue
            if len(run) > len(best):
                best = run
            run = []
    return clean(" ".join(best[:5]))


def _standing_alone(text: str) -> str | None:
    """The first sentence that is only a subject (one to four words, none a cue or a stop word)."""
    for clause in clauses_of(text):
        words = clause.split()
        if 1 <= len(words) <= 4 and not any(w.lower().strip("'\"") in _FALLBACK_DROP for w in words):
            if not _POLITE.search(clause) and clean(clause) == clause:
                return clause
    return None


# Who the learner is, or who said what, stated first ("I'm a nurse and I want...", "My teacher said the midterm
# covers..."): no subject there, the request follows.
WHO_FIRST = re.compile(
    r"^\s*(?:(?:hi|hello|hey)[,!]?\s+)?(?:(?:i'?m|i am|as) an? [\w-]+(?: [\w-]+){0,3}? ?(?:,|and|but)\s+|"
    r"(?:i'?m|i am) (?:an? )?(?:[\w-]+ ){0,2}from [A-Z][\w-]*(?: [A-Z][\w-]*)?(?:,| and)\s+|"
    r"(?:my|our) (?:teacher|boss|prof|professor|supervisor|manager|tutor) (?:said|says|told (?:me|us))(?: that)?\s+)",
    _I,
)


def read_topic(text: str, intent: str) -> tuple[str, str | None]:
    """The subject and, for tasks and skills, the verb the learner used (or None)."""
    text = re.sub(r"[ \t]{2,}", " ", re.sub(r"(?<=\s)['’]s\b", "", text))  # where times were taken out
    text = WHO_FIRST.sub("", text) or text
    found = _read(clauses_of(text), intent)
    if found is None and intent == "exam_preparation" and (exam := named_exam(text)):
        found = (exam, None)  # "GRE in 3 weeks. Quant is my weak side.": the exam's own name
    if found is None and (alone := _standing_alone(text)):
        found = (alone, None)  # "Entropy. I just don't get it.": the subject said on its own
    if found is None:  # the learner used another intent's words: read it as that one
        for other in PATTERNS:
            if other != intent and (found := _read(clauses_of(text), other)) is not None:
                break
    if found is None:
        found = (fallback(text), None)
    if intent == "task_decomposition" and found[1] is None:
        found = _verb_free(found[0], intent)
    return found


# The words the rules are written with (cue words, stop words, verbs of the request): what stands beside a
# subject more often than inside one. For the topic model.
CUE_WORDS = (
    frozenset(
        w.lower()
        for p in [
            _POLITE,
            _LEADING,
            _TRAILING,
            _TASK_VERBS,
            _SKILL_VERBS,
            *(p for ps in PATTERNS.values() for p, _ in ps),
        ]
        for w in re.findall(r"[A-Za-z']{2,}", p.pattern)
    )
    | _STOP
)


def span_notes(span: str) -> list[str]:
    """What the rules' word lists say of a candidate subject (for the topic model)."""
    notes = cleaning_notes(span, clean(span))
    words = span.lower().split() or [""]
    if words[0] in _STOP:
        notes.append("stop-first")
    if words[-1] in _STOP:
        notes.append("stop-last")
    if _PRONOUN.match(span):
        notes.append("pronoun")
    if _TASK_VERBS.match(span + " ") or _SKILL_VERBS.match(span + " "):
        notes.append("verb-first")
    return notes
