"""The assistant: one event and the conversation's state in, replies out.

It knows nothing of Telegram; the bot, the terminal chat and the agent
console are thin adapters around `Assistant.handle`.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Protocol

from actions.dates import find_date
from actions.events import Button, Event, Outcome, Reply
from actions.flows import QUESTION_RE, Flow, FlowContext
from actions.i18n import LANGS, Translator, default_translator
from actions.state import Conversation, MemoryStateStore, StateStore
from actions.units import (
    DETAIL_MARGIN,
    DETAIL_MIN_SIMILARITY,
    GREETING_RE,
    INTENT_WEIGHT,
    LEARNED_MIN_SIMILARITY,
    RESCUE_MIN_SIMILARITY,
    SERVICE_MARGIN,
    Ranked,
    UnitRanker,
    classifier_certain,
    learned_sure,
)
from knowledge.base import Entry, KnowledgeBase
from knowledge.calendar import Calendar
from nlu.entities import lexicon
from nlu.light import kazakh_grammar_words
from nlu.normalize import fold
from nlu.pipeline import FALLBACK_INTENT, NLU, REQUEST_INTENTS, ParseResult

log = logging.getLogger(__name__)

# Intents answered from the knowledge base.
KNOWLEDGE_INTENTS = frozenset(
    {
        "ask_documents",
        "ask_where_to_apply",
        "ask_schedule",
        "ask_processing_time",
        "ask_application_period",
        "ask_result",
        "ask_application_form",
        "complaint",
        "ask_eds",
        "ask_university_closed",
        "ask_representative",
        "ask_pickup",
        "ask_home_visit",
        "ask_contacts",
        "ask_queue_rules",
        "ask_fee",
        "ask_refusal",
        "ask_legal_basis",
    }
)
# Actions of later features; until a front end provides them the assistant
# answers with what the knowledge base says about them.
ACTION_INTENTS = {
    "book_queue": "booking-info",
    "cancel_booking": "booking-info",
    "my_bookings": "booking-info",
    "check_status": "status-info",
    "submit_application": "application-info",
}
# What to look up in the knowledge base for an action intent.
ACTION_TOPICS = {
    "book_queue": "ask_queue_rules",
    "cancel_booking": "ask_queue_rules",
    "my_bookings": "ask_queue_rules",
    "check_status": "check_status",
    "submit_application": "ask_where_to_apply",
}
# Without a service named, these are answered for every service at once
# (short answers, and the citizen asking them rarely has one in mind).
ANSWER_ALL_SERVICES = frozenset(
    {"ask_legal_basis", "ask_fee", "ask_refusal", "ask_contacts", "complaint"}
)
# Answers for every service at once when together they are no longer.
EACH_SERVICE_MAX_CHARS = 700
# A follow-up after a precise fact answers that fact's sibling when the
# previous question and the follow-up are at least this close to it.
FOLLOWUP_MIN_SIMILARITY = 0.25
# A detail unit of another topic than one the model is this sure of must be
# OTHER_TOPIC_MARGIN closer than the general answers.
SURE_OF_TOPIC = 0.95
# A detail whose words are only somewhat close is taken when words, meaning
# and the classifier together put it this far ahead of the general answer
# ("подал жалобу, ответ не устроил, что дальше?" is the appeal).
DETAIL_CLEAR_MARGIN = 0.4
# A general answer for a message the model could not place, when it is this
# far ahead of the next one (words and meaning, the classifier's first).
RESCUE_CLEAR_MARGIN = 0.25
OTHER_TOPIC_MARGIN = 0.3
# The model is fairly sure of one topic, yet words, meaning and the classifier
# put a general answer of another this far ahead of that topic's best answer
# ("цоннын мекенжайын айтып жибериниз" read as a closed university; "на
# основании какого документа работает прием" as the application period): the
# words decide.
WORDS_OVER_MODEL_MARGIN = 0.25
WORDS_OVER_TOPIC_MIN = 0.4
WORDS_OVER_SURE_MARGIN = 0.8
# A message of at most FAMILY_WORDS words after an answer: the units of that
# answer's family (grant.documents.*, duplicate.complaint.*) rank this higher.
FAMILY_BONUS = 0.3
FAMILY_WORDS = 6
# An unsure short message that names an office or a service, and leans this
# much to another topic than the last with words of its own, may ask anew.
NEW_TOPIC_LEAN = 0.4
# "Also"/"the same" with another service's name: the same fact for that service.
SAME_FACT_WORDS = 12
# The runner-up topics looked at when the conversation's service lacks the first.
RUNNER_UP_TOPICS = 3
# No service named in the message: the conversation's service adds this much
# to its units' scores ("а обед во сколько?" after questions on grants).
CONTEXT_SERVICE_BONUS = 0.6
# The conversation's topic counts as at least this likely for the units that
# answer it ("қанша күнде қарайды?" after a question on complaints is the
# complaint's term, though the model reads "how long" as processing time).
CONTEXT_TOPIC_PRIOR = 0.5
BUTTON_OF_SERVICE = {
    "duplicate": "btn-duplicate",
    "grant": "btn-grant",
    "social_support": "btn-social",
}
# Replies that answer nothing: the message may be the start of a burst.
# The "op:<reason>" payload of "shall I pass you to a person?" after two
# misses (actions/handoff.py NOT_UNDERSTOOD: the staff are told why).
NOT_UNDERSTOOD = "not_understood"
EMPTY_HANDED = frozenset({"greet", "help", "affirm", "deny", "thank", FALLBACK_INTENT})
# A message that says nothing alone may finish a burst ("что мне делать").
BURST_TRIGGERS = frozenset({"help", "out_of_scope", FALLBACK_INTENT})
# A message this long is more than a greeting or thanks.
LONG_WORDS = 7
# A message this short after an answer may be a follow-up to it.
SHORT_FOLLOWUP_WORDS = 6
# A burst: messages this close together are read as one.
BURST_SECONDS = 60.0
BURST_KEPT = 4
# An action (book, apply, status) the model is less sure of than this gives
# way to an answer unit the message's words name plainly.
ACTION_SURE = 0.75
# ... or than this when the message is a question ("... қолхат бере ме?").
ASKED_ACTION_SURE = 0.95
# A story with one question: below this confidence in the whole message,
# the question alone is read too, and wins when it is this sure.
STORY_SURE = 0.8
QUESTION_SURE = 0.95
# A short message keeps the conversation's language unless this sure.
SHORT_SWITCH_CONFIDENCE = 0.97
# ... except a short message of plain Russian words, with no Kazakh in it
# ("мои записи покажи", "сколько дней рассматривают жалобу"): the citizen
# switched. It has this many words of four letters or more ("а в субботу?"
# has one, and keeps the conversation's language) and the detector is this
# sure.
PLAIN_SWITCH_WORDS = 2
PLAIN_SWITCH_CONFIDENCE = 0.85
# "Out of scope" about a service named: its runner-up topic, at least this likely.
IN_SCOPE_RUNNER_UP = 0.1
# "язык", "тіл" (folded): a switch that names no language means the other one.
_LANGUAGE_WORD_RE = re.compile(r"\b(?:язык\w*|тил\w*|языг\w*|енглиш|лангуаге|англ\w*|агылшын\w*)")
_RUSSIAN_NAMED_RE = re.compile(r"\b(?:орыс|рус)")
_KAZAKH_NAMED_RE = re.compile(r"\b(?:казак|казах|мемлекеттик|государствен)")
_KAZAKH_LETTERS_RE = re.compile(r"[әғқңөұүһі]", re.IGNORECASE)
# "How do I find out the status?", "can I book through egov?": a question
# about an action, answered from the standard, not the action itself.
_HOW_RE = re.compile(
    r"\b(?:как|каким образом|можно ли|можно|где можно|калаи|кайдан|каидан|бола ма|болама|"
    r"болады ма|бола ма екен|мумкин бе|мүмкін бе)\b"
)
# Question words (folded), left out when a short second question borrows
# the first one's words.
_INTERROGATIVE_RE = re.compile(
    r"(?:каида|кайда|qaida|kaida|кай|каи|калаи|qalai|kalai|кашан\w*|qashan\w*|kashan\w*|"
    r"канша|qansha|kansha|кандаи|qandai|kandai|кимге|куда|где|как|когда|сколько|какие|какой|"
    r"какая|ма|ме|ба|бе|па|пе|ли|ше|ma|me|ba|be|pa|pe)"
)
# A second question this short is read with the first one's words, or
# alone when that took it over and alone the model is this sure of it.
ELLIPSIS_WORDS = 3
ALONE_SURE = 0.8
_CLAUSE_SPLIT_RE = re.compile(
    r"(?<=[?!.])\s+|\n+|\s+(?:и|а также|также|және|жане|әрі|ари|тағы|тагы|zhane|jane)\s+",
    re.IGNORECASE,
)

SERVICES = ("duplicate", "grant", "social_support")
CHANNELS = ("provider", "psc", "portal")
# ЦОН takes applications for duplicates only: naming it names the service.
PSC_SERVICE = "duplicate"
# Asked of ЦОН during grants, these are answered by the standard naming no
# ЦОН for them: where to apply, what to bring there.
PSC_GRANT_INTENTS = frozenset({"ask_where_to_apply", "ask_documents"})
CONFIDENCE_THRESHOLD = 0.45
# The citizen's earlier messages read for what they told (_told).
RECENT_TOLD = 4
LANG_CONFIDENCE = 0.7
# Words that mark a follow-up: "а через портал?", "ал грантқа ше?"
_FOLLOWUP_RE = re.compile(r"^(а|ал|и|а если|а для|а в|а как|ну а)\b|\b(ше|ше\?|шы|ли)\s*\??$")
# Words that go with a service's name without asking anything ("дубликат
# диплома", "образовательный грант").
_NAME_FILLERS = frozenset(
    {
        "диплом",
        "диплома",
        "дипломнын",
        "дипломга",
        "образовательныи",
        "студентов",
        "по",
        "на",
        "про",
        "о",
        "об",
        "насчет",
        "туралы",
        "боиынша",
        "жаиында",
    }
)
_FOLLOWUP_WORDS = frozenset(
    {
        "а",
        "ал",
        "и",
        "если",
        "для",
        "через",
        "аркылы",
        "боиынша",
        "ше",
        "шы",
        "ли",
        "как",
        "ну",
        "дата",
    }
)
# "Also", "the same" (Russian and Kazakh, folded).
_SAME_RE = re.compile(
    r"(?<!\w)(тоже|также|так же|то же|те же|такие же|такой же|та же|сол|солар|солаи"
    r"|осы|осылар|осындаи|да|де|та|те)(?!\w)"
)
# "For that", "for it" (folded): a word that points back at the last answer.
_BACK_RE = re.compile(
    r"(?<!\w)(ол ушин|сол ушин|бул ушин|осы ушин|оган|соган|для этого|для него|для нее"
    r"|для неё|на это|на него|с этим|по этому поводу)(?!\w)"
)
# "Those same days?", "те же сроки?" (folded): the fact just answered, asked
# again of what the message names (the portal), not a new topic.
_SAME_AS_BEFORE_RE = re.compile(
    r"(?<!\w)(?:(?:дал\s+)?сол|осы)\s+(?:кун|мерзим|уакыт|тартип|кужат)\w*"
    r"|(?<!\w)(?:те же|тот же|та же|такие же|такой же|то же самое|тоже самое)\s+"
    r"(?:срок|дни|дат|числ|врем|порядок|документ)\w*"
)
# The stipend (folded): the grant's result includes the rector's order on it
# (clause 6), so in a grant conversation the word names no other service.
_STIPEND_RE = re.compile(r"(?<!\w)(?:стипенди|шакиртакы)\w*")
# "у меня вопрос", "сұрағым бар": a new question is coming; nothing typed
# before it (the question answered last, a greeting) is read with it.
_ANNOUNCE_RE = re.compile(r"(?<!\w)(вопрос\w*|спросить|спрошу|сурак\w*|сураг\w*)(?!\w)")
# A message this short that announces a question says nothing else.
ANNOUNCE_WORDS = 5
# Someone else's errand: "оның орнына мен алып кете аламын ба", "забрать
# вместо неё", "за нее могу я забрать", "сенімхат керек пе", "улымды
# жиберсем" (folded).
_PROXY_RE = re.compile(
    r"\b(?:орнына|орныма|вместо|сенимхат\w*|доверен\w*|атынан|атымнан|жиберсем|"
    r"за (?:нее|него|мужа|жену|сына|дочь|маму|мать|отца|брата|сестру|родственник\w*)|"
    # "баласы ретінде барып алсам": as her son, a relative
    r"(?:бала|кыз|ул|ана|аке|туыс|ага|ини|апа|карындас|синли|жубаи|куиеу|аиел)\w{0,3} ретинде)\b"
)
# The errands a representative may run: collecting, applying.
PROXY_INTENTS = frozenset({"ask_pickup", "ask_representative", "submit_application"})
# Read as where to apply, only "on his behalf" says another person's errand
# ("мен оның атынан тапсырсам бола ма"); "вместо"/"орнына" there is a letter
# written instead of another ("Ерболат орнына Ерболот деп жазыпты").
_ON_BEHALF_RE = re.compile(r"\b(?:атынан|атымнан|сенимхат\w*|доверен\w*)\b")
# "What extra documents?" (folded): asked by a citizen who told which
# category they are in, it asks for that category's documents.
_EXTRA_RE = re.compile(r"\b(?:косымша|доп|дополнительн\w*|ерекше)\b")
# The categories with documents of their own in the standard's lists, by the
# words a citizen tells them with (folded): no parents, a disability (the
# ВКК/ДКК conclusion), the veterans' equals, ethnic Kazakhs without
# citizenship.
_CATEGORY_RES = (
    (
        "orphans",
        re.compile(
            r"\b(?:жетим\w*|сирот\w*|детдом\w*|детск\w* дом\w*|камкор\w*|опек\w*|"
            r"ата анам жок|ата анасы жок|без родител\w*|каитыс бол\w*)"
        ),
    ),
    ("vkk", re.compile(r"\b(?:мугедек\w*|инвалид\w*|вкк|дкк)\b")),
    (
        "veterans",
        re.compile(
            r"\b(?:ветеран\w*|ардагер\w*|афган\w*|боевых|согыс\w*|тенестирил\w*|приравнен\w*)"
        ),
    ),
    ("kandas", re.compile(r"\b(?:кандас\w*|оралман\w*|гражданств\w*|азаматтыг\w*)")),
)
# "Will they give me a duplicate (in my case)?" (folded): "дубликат дадут?",
# "жаңасын выдадут ма", "ондайда дубликат берил ме", "osyny dublikat arqyly
# tuzetuge bola ma"; not when or where it is given.
_GIVEN_RE = re.compile(
    r"\b(?:дадут|выдадут|дают ли|выдают ли|бере ме|бере ма|бериле ме|бериле ма|"
    r"берил ме|береди ме|тузет\w*|исправ\w*)\b"
)
_WHEN_WHERE_RE = re.compile(
    r"\b(?:кашан|когда|сколько|канша|где|куда|каида\w*|кимге|кто|что|не|кандаи|как\w*)\b"
)
# The duplicate itself is what is asked for ("дубликат", "жаңасын", "осыны").
_THE_COPY_RE = re.compile(r"\b(?:дубликат\w*|телнуск\w*|жана\w*|нов\w*|осыны|его)\b")
# What happened to the diploma, as the citizen told it (folded), and the
# unit that says whether it is a reason for a duplicate.
_REASON_RES = (
    ("duplicate.reason.errors", re.compile(r"\b(?:ошиб\w*|опечат\w*|неправильн\w*|кате\w*)")),
    (
        "duplicate.reason.name_change",
        re.compile(r"\b(?:замуж\w*|турмыс\w*|девич\w*|сменил\w*|тегим озгер\w*)"),
    ),
    (
        "duplicate.reason.damaged",
        re.compile(
            r"\b(?:порва\w*|порван\w*|разорв\w*|изорв\w*|намок\w*|размок\w*|сгор\w*|"
            r"испорт\w*|повред\w*|погрыз\w*|изгрыз\w*|сгрыз\w*|жырт\w*|тистеп|кемир\w*|"
            r"малшын\w*|ортен\w*|куиип|булин\w*|булд\w*|жарамсыз\w*)"
        ),
    ),
    (
        "duplicate.reasons",
        re.compile(r"\b(?:потер\w*|утер\w*|украл\w*|украд\w*|краж\w*|жогал\w*|урла\w*)"),
    ),
)
# "What do I bring?" (folded): "озиммен не алып баруым керек", "что взять
# с собой", "что с собой нести в цон".
_BRING_RE = re.compile(
    r"\b(?:не (?:алып|ала) бар\w*|(?:не|кандаи кужат\w*) (?:апар|акел|алып кел)\w*"
    r"|что (?:\w+\s+){0,3}?(?:взять|брать|нести|принести|приносить)|что с собои"
    r"|с чем\s+(?:\w+\s+)?(?:идти|приходить|ехать))\b"
)
# ...to collect the duplicate, not to apply for it (folded).
_COLLECT_RE = re.compile(
    r"\b(?:даиын\w*|даыин\w*|готов\w*|хабарлама\w*|уведомлен\w*|забира\w*|забрать)\b"
)
# "алуға барғанда өзіммен не апарам" (folded): going to collect it; not
# "қайда барып алуға болады" (where one gets a duplicate: applies for it).
_GOING_TO_COLLECT_RE = re.compile(r"(?<!\w)(?:алуга\s+бар|алу\s+ушин\s+кел)\w*")
# The paper that says the documents were taken in (folded): "колхат бере
# ме", "расписку дают?", "кабылдаганы туралы кагаз", "бумагу что приняли".
_PAPER = r"(?:кагаз|бумаг|бумажк)\w*"
_TAKEN_IN = r"(?:кабылдаган\w*|кабылданган\w*|принял\w*|принят\w*|подтвержд\w*)"
_RECEIPT_RE = re.compile(
    rf"(?<!\w)(?:колхат\w*|расписк\w*|квитанц\w*"
    rf"|{_PAPER}\W+(?:\w+\W+){{0,5}}?{_TAKEN_IN}|{_TAKEN_IN}\W+(?:\w+\W+){{0,3}}?{_PAPER})"
)
# The receipt kept for collecting (folded): brought along, lost, shown when
# the duplicate is handed over ("алғанда қолхатты апару керек пе", "қолхатты
# жоғалтып алсам ше", "расписку с собой брать?").
_RECEIPT_KEPT_RE = re.compile(
    r"(?<!\w)(?:апар\w*|ала\s+бар\w*|алып\s+бар\w*|озимен|взять|брать|с\s+собои|принес\w*|"
    r"жогалт\w*|жогалс\w*|потер\w*|утер\w*|алганда|алуга|получ\w*|забир\w*|выдач\w*)"
)
# Not agreeing with an outcome, going higher (folded): "жауабына келіспесем",
# "нәтижесі ұнамаса", "если ответ не устроит", "жоғарғы органға".
_DISAGREE_RE = re.compile(
    r"(?<!\w)(?:келиспе\w*|унамас\w*|унамад\w*|не\s+устр\w*|не\s+согла[сш]\w*|несогла[сш]\w*|"
    r"не\s+понрав\w*|обжал\w*|жогары\s+тур\w*|жогаргы\s+орган\w*|вышестоящ\w*)"
)
_OUTCOME_WORD_RE = re.compile(
    r"(?<!\w)(?:жауаб\w*|ответ\w*|натиже\w*|результат\w*|шешим\w*|решени\w*)"
)
# Each office's receipt, and the portal's (none: the status tells).
RECEIPT_UNITS = {
    "provider": "duplicate.receipt.provider",
    "psc": "duplicate.receipt.psc",
    "portal": "duplicate.receipt.portal",
}
# What else, besides what was just said (folded): "сенімхаттан басқа тағы не
# ала барамын", "что еще взять кроме доверенности".
_ELSE_RE = re.compile(r"\b(?:баска|тагы|еще|кроме|помимо)\b")
# The answers that are about someone collecting the ready duplicate for the
# citizen: what to bring next is for collecting it.
COLLECTING_UNITS = frozenset(
    {"duplicate.representative", "duplicate.representative.power_of_attorney"}
)
# An EDS said of the duplicate's status (folded): "ЭЦҚ-м жоқ" after how to
# learn it, "ЭЦП бар болса онлайн тексеруге бола ма статусын": with one the
# status is seen remotely, without one the contact centre tells it.
# "ESQ" typed in Latin letters folds to "еск"; "ЭЦҚ-сыз", "ESQ sız": without.
_EDS_WORD = r"(?:[эе]ц[пк]|[эе]ск)"
_EDS_RE = re.compile(rf"(?<!\w){_EDS_WORD}(?:сыз|сиз)?(?!\w)")
# The EDS word with "without" on it or before it: "ЭЦҚ-сыз", "без эцп".
_EDS_LESS = rf"(?<!\w){_EDS_WORD}\W*(?:сыз|сиз)(?!\w)|(?<!\w)без\s+{_EDS_WORD}(?!\w)"
_EDS_LESS_RE = re.compile(_EDS_LESS)
_NO = (
    r"(?<!\w)(?:жок|нет|нету|без|болмаса|жогы|сыз|сиз|не имею|алмага\w*|алмадым|жасатпага\w*)(?!\w)"
)
_NO_EDS_RE = re.compile(rf"{_NO}|{_EDS_LESS}")
# ...said of the EDS itself: "эцп у меня нету", "менде ЭЦҚ жоқ", "без эцп";
# not "можно полностью онлайн без вуза?" with an EDS named before.
_WITHOUT_EDS_RE = re.compile(
    rf"{_EDS_RE.pattern}(?:\W+\w+){{0,2}}?\W+{_NO}|{_NO}(?:\W+\w+){{0,2}}?\W+{_EDS_RE.pattern}"
    rf"|{_EDS_LESS}"
)
# "жоқ, бар екен", "а нет, есть оказывается": the citizen has one after all.
_HAS_IT_AFTER_ALL_RE = re.compile(r"(?<!\w)бар екен|оказывается есть|есть оказывается")
# The portal named in other words (folded): "онлайн подать", "через интернет".
_ONLINE_RE = re.compile(r"онлаин|online|интернет|егов|портал|удален|кашыктан")
# The topics a message that says "I have no EDS" may be read as: how to
# apply, then; not a story's aside ("эцп не было. как узнать результат?").
WITHOUT_EDS_INTENTS = frozenset({"ask_eds", "ask_where_to_apply", "submit_application"})
# Being told the duplicate is ready (folded): "уведомление придет когда будет
# готово?", "как узнаю что готово", "дайын болғанын қайдан білемін".
_NOTICE_RE = re.compile(r"уведом|хабарла|оповест|сообщат|сообщи|(?<!\w)смс|(?<!\w)sms")
_NOTICE_CAME_RE = re.compile(
    r"пришл|пришел|келди|келген|келип|получил|алдым|хабарласт|хабарлад|сообщил|позвонил|звонил"
)
# "готово или нет", "дайын болды ма жоқ па", "готов уже": whether it is ready
# now, which is the status.
_READY_YET_RE = re.compile(r"или нет|жок па|(?<!\w)уже(?!\w)|(?<!\w)ли(?!\w)|болды ма")
_HOW_LEARN_RE = re.compile(
    r"(?<!\w)(?:как|откуда|калаи|кайдан|каидан|кандаи)\s+(?:\w+\s+)?"
    r"(?:узна|билем|билеми|билсем|билуге)"
)
# The archive of a closed university (folded), with where or how to reach it:
# "мұрағаттың мекенжайын жіберіңізші", "а адрес этого архива какой".
_ARCHIVE_RE = re.compile(r"архив|арчив|мурагат")
_REACH_RE = re.compile(
    r"мекенжаи|адрес|(?<!\w)(?:кайда|каида|где|куда)(?!\w)|телефон|номер|контакт|байланыс"
)
# Where a complaint made through the portal is followed (folded): "где ее
# потом смотреть", "онын жаиын каидан караимын", "жауабы кайда келеди".
_PORTAL_WORD_RE = re.compile(r"егов|портал|кабинет")
_FOLLOW_RE = re.compile(
    r"смотр|отслед|видн|статус|(?<!\w)жаи(?:ы|ын)(?!\w)|жагдаи|"
    r"(?<!\w)(?:кайдан|каидан|кайда|каида|где|куда|откуда)\s+(?:\w+\s+){0,2}?"
    r"(?:кара|смотр|кор|кел|прид|приход|отслед)"
)
# A ready duplicate left at ЦОН (folded): "алуды ұмытып кетіпті", "2 ай бұрын
# тапсырғам, әлі алғаным жоқ", "он там пролежит?".
_LEFT_UNCOLLECTED_RE = re.compile(
    r"(?:алу\w*|алып)\s+(?:\w+\s+)?умыт|умыт\w*\s+(?:\w+\s+)?(?:алу|алып)|"
    r"(?:алу\w*|алып)\s+(?:\w+\s+)?(?:есимнен|естен) шыг|"
    r"забыл\w*\s+(?:\w+\s+)?(?:забрать|забирать|получить)|(?:забрать|получить)\s+(?:\w+\s+)?забыл|"
    r"пролеж|барып (?:алмадым|алмаган|алганым жок)|не забрал|не забирал|"
    r"не успе\w* (?:забрать|забирать|получить)|али сонда|еще там|до сих пор там"
)
# ...or told ready and not collected: "дайын деп sms келген, бірақ алмадым".
_NOT_COLLECTED_RE = re.compile(r"алмадым|алмаган|алганым жок|не забрал|не забирал")
# Without an EDS, how else: the office instead of the portal (the duplicate's
# and the grant's answers).
WITHOUT_EDS_UNITS = {
    "duplicate": "duplicate.eds.not_needed_in_person",
    "grant": "grant.eds.without_eds",
}
_STATUS_RE = re.compile(
    r"статус|(?:каи|кай) (?:жерде жатыр|сатыда|кезенде)|на каком этапе|где (?:сеичас )?наход"
)
_LEARN_RE = re.compile(r"узна|провер|посмотр|отслед|билу|билем|билсем|билеми|тексер|карау|караи")
# ...but applying or signing with it is another question ("ЭЦП арқылы
# порталдан өтініш беруге бола ма?").
_SIGN_OR_APPLY_RE = re.compile(r"отиниш\w*\s+(?:беру|берсе|бере ал)|подпис|кол кою|кол кои")
# "Where do I get it?" (folded) once the duplicate is ready: where it is
# collected, not where one applies ("al qaida baryp alam" after the notice).
_GET_RE = re.compile(
    r"\b(?:(?:барып\s+)?ал(?:ам|амын|амыз|у|уга|ып|уым)|забрать|забирать|получить|получать)\b"
)
# The answers after which the duplicate is ready (besides the pickup's own):
# the notice, the hand-over to ЦОН.
READY_UNITS = ("duplicate.result.ready_notification", "duplicate.processing_time.provider_to_psc")
# Sent through the portal out of hours (folded): "31 шілде түнгі сағат 12-де
# порталдан жіберсем қабылдай ма", "в 11 вечера кину заявку через егов,
# примут?": accepted on the next working day (each standard's schedule).
_AFTER_HOURS_RE = re.compile(
    r"(?<!\w)(?:тун\w*|кеш\w*|ночь\w*|ночью|ночи|вечер\w*|поздно|полноч\w*|"
    r"демалыс\w*|выходн\w*|праздни\w*|мереке\w*|воскресен\w*|жексенби\w*|"
    r"после работы|жумыстан кеин|после окончания)"
)
_ACCEPTED_RE = re.compile(r"(?<!\w)(?:принят\w*|примут|принима\w*|кабылда\w*|саналад\w*)")
# ...asked of an application sent or to be sent ("жіберсем", "кину", "подала"),
# or when it counts as accepted; not whether the portal takes them at night at
# all (its hours), nor whether one's documents were accepted (the status).
_SENT_RE = re.compile(r"(?<!\w)(?:жибер|тапсыр|берсе|бердим|отправ|пода|кину|кинул|скин)\w*")
# "я уже подала заявление в ЦОН", "порталдан өтініш бердім" (folded): told,
# not asked; the form is for one who wants to apply ("хочу подать", "тағы
# бергім келеді").
_ALREADY_APPLIED_RE = re.compile(
    r"(?<!\w)(?:подал\w*|отправил\w*|сдал\w*|бердим|бердик|бергем|бергенмин|бергенбиз|"
    r"жибердим|жибердик|жибергем|жибергенмин|тапсырдым|тапсырдык|тапсыргам|тапсыргенмин)(?!\w)"
)
_WANTS_RE = re.compile(
    r"(?<!\w)(?:хоч\w*|хотел\w*|хотим|надо|нужно|давайте|еще|ещё|повторно|заново|снова|"
    r"бергим|тапсыргым|жибергим|берейин|тапсырайын|тагы|кайта)(?!\w)"
)
# The bot itself named as the way to apply ("а можно через вас заявку
# отправить прямо тут?", "осы ботта толтырып жіберейін", folded): the form
# here, not the university's office or the portal.
_VIA_BOT_RE = re.compile(
    r"(?<!\w)(?:через\s+(?:вас|тебя|бот\w*|чат\w*|этот\s+(?:бот|чат)\w*)|"
    r"прямо\s+(?:тут|здесь|в\s+(?:чате|боте))|(?:в|на)\s+этом\s+(?:чате|боте)|здесь\s+в\s+(?:чате|боте)|"
    r"сиз\s+аркылы|сен\s+аркылы|осы\s+(?:бот|чат)\w*|бот\w*\s+аркылы|чат\w*\s+аркылы|ботта|ботпен|чатта)(?!\w)"
)
# Asked of the bot, politely (folded): "подайте", "оформите", "толтырып
# жіберіңізші", "тапсырып беріңіз".
_PLEASE_APPLY_RE = re.compile(
    r"(?<!\w)(?:(?:подаите|отправьте|оформите|заполните)(?!\w)|"
    r"(?:берип|тапсырып|толтырып|жиберип|расимдеп)\s+(?:жибер|бер|кои)(?:иниз\w*|ши|шы)(?!\w))"
)
_FORM_WORDS_RE = re.compile(r"(?<!\w)(?:заявк\w*|заявлен\w*|отиниш\w*|анкет\w*|форм[ау]\w*)")
# What a story of applying (for oneself or another) is read as, when it ends
# asking what to bring or upload.
STORY_INTENTS = frozenset(
    {
        "submit_application",
        "ask_result",
        "ask_where_to_apply",
        "ask_representative",
        FALLBACK_INTENT,
    }
)
# Higher up (folded): "выше кому писать", "жоғарғы органға"; not "жоғары
# оқу орны", the university.
_HIGHER_RE = re.compile(
    r"(?<!\w)(?:выше|вышестоящ\w*|(?:жогаргы|жогары\s+турган)\s+(?:орган|мекеме|инстанц)\w*)(?!\w)"
)
# In another person's place (folded): "оның орнына", "вместо него", "за неё".
_IN_ANOTHERS_PLACE_RE = re.compile(
    r"(?<!\w)(?:(?:онын|олардын|сонын)\s+орнына|вместо\s+(?:него|нее|мужа|жены|сына|дочери|мамы"
    r"|матери|отца|брата|сестры)|атынан|за\s+(?:нее|него|мужа|жену|сына|дочь|маму|мать|отца"
    r"|брата|сестру))(?!\w)"
)
# What to bring or upload, asked (folded): "не жүктейміз", "что загружать".
_WHAT_TO_BRING_RE = re.compile(
    r"(?<!\w)не\s+(?:жукте|апар|тирке|алып бар)\w*|какие документы"
    r"|что\s+(?:загружа|прикреп|нест|приложи)\w*"
)
# Whom something is addressed to (folded): "кімнің атына", "кому", "на имя".
_ADDRESSEE_RE = re.compile(
    r"(?<!\w)(?:кимнин атына|кимге арна\w*|кому|на имя|адресов\w*|адресат\w*)(?!\w)"
)
# "онда өтініш толтырайын" (folded): the citizen will fill it in now; not
# "өтінішті қалай толтырайын", which asks how.
_LET_ME_FILL_RE = re.compile(r"(?<!\w)толтыр(?:аиын|ып береиин|ып жибереиин)(?!\w)")
_ASKING_HOW_RE = re.compile(r"(?<!\w)(?:калаи|каида|кашан|кандаи|кимге|ма|ме|ба|бе|па|пе)(?!\w)")
_FILL_RE = re.compile(r"(?<!\w)(?:толтыр|заполн|оформ|расимде)\w*")
# One's bookings, to be shown; a timetable; a booking (folded; _booking_or_not).
_SHOW_RE = re.compile(r"(?<!\w)(?:корсет|покаж|посмотр|тексер|проверь)\w*")
_MY_BOOKINGS_RE = re.compile(
    r"(?<!\w)(?:жазылуларым\w*|жазбаларым\w*|брондарым\w*|бронымды|мои\s+(?:записи|брони)|моих\s+записе\w*|"
    r"мою\s+запись)"
)
_TIMETABLE_RE = re.compile(r"(?<!\w)(?:кесте|график|расписани)\w*")
# Taking a booking away (folded): "соны алып тастаңызшы", "өшіріп
# жіберіңіз", "жойыңыз", "болдырмаңыз", "отмените", "удалите".
_REMOVE_RE = re.compile(
    r"(?<!\w)(?:алып\s+таста(?!ма)\w*|оширип\s+\w+|ошириниз\w*|жоиыныз\w*|жоиып\s+\w+|"
    r"болдырма\w*|отмен\w*|удали\w*|убер[иеё]\w*|убра\w*|аннулир\w*)"
)
_BOOKING_WORD_RE = re.compile(
    r"(?<!\w)(?:запиш\w*|запис\w*|кезек\w*|брон\w*|талон\w*|жазыл\w*|жазып\s+кои\w*|"
    r"уакыт\w*|время|врем\w*|сагат\w*)"
)
# "There", pointing back at an office (folded): "какие документы туда",
# "ол жерге не апарам", "сол жерде қанша күтемін".
_THERE_RE = re.compile(r"(?<!\w)(?:туда|там|ол\s+жер\w*|сол\s+жер\w*|ол\s+жакка)(?!\w)")
# "In general", "in full" (folded): the whole answer, not the office just named.
_IN_GENERAL_RE = re.compile(
    r"(?<!\w)(?:жалпы|толык|толыгымен|вообще|в\s+целом|полностью|целиком)(?!\w)"
)
# "What comes" (folded), not where or whether: "кабинетке тағы не келеді",
# "что должно прийти в кабинет", "қандай хабарламалар келеді".
# ("не приходит" is Russian "does not come": "не" asks only before Kazakh.)
_WHAT_COMES_RE = re.compile(
    r"(?<!\w)(?:(?:не|что|кандаи\s+\w+)\s+(?:\w+\s+){0,2}(?:келед\w*|келеди|тусед\w*)|"
    r"(?:что|какие\s+\w+)\s+(?:\w+\s+){0,2}(?:придет|приходит|прии?ти|будет\s+приходить))"
)
# "What did you mean by..." of the answer just given (folded): "дегеніңіз",
# "деп жаздыңыз", "вы сказали", "что вы имеете в виду" ("что значит X?" asks
# of X anew: h15-060).
_MEANT_RE = re.compile(
    r"(?<!\w)(?:дегенин\w*|дегениниз\w*|деп (?:жаздыныз|айттыныз)|"
    r"вы (?:сказали|написали)|что вы имеете в виду|что имеете в виду)(?!\w)"
)
# The document itself as a file (folded): "pdf", "скачать", "жүктеп алу",
# "в электронном виде", "электронды түрде"; not the portal's or the EDS's name.
_ELECTRONIC_COPY_RE = re.compile(
    r"(?<!\w)(?:pdf|пдф|скачат\w*|скачив\w*|жуктеп\s+ал\w*|файл\w*|скан\w*|"
    r"электронн\w*\s+(?:вид\w*|формат\w*|вариант\w*)|в\s+электронке|"
    r"электронды\w*\s+(?:тур\w*|нуска\w*|формат\w*))(?!\w)"
)
# The service itself, not its result (folded): "услугу оказывают", "беру қызметі".
_SERVICE_FORM_RE = re.compile(r"(?<!\w)(?:услуг\w*|оказыва\w*|кызмети\w*|кызметт\w*)")
# ...when it is ready (folded): "когда будет готово", "даиын болганда";
# "dayin" (Latin y for й) folds to "даыин".
_READY_RE = re.compile(r"(?<!\w)(?:готов\w*|даиын\w*|даыин\w*|шыкканда|шыкса)(?!\w)")
_NOT_COMING_RE = re.compile(r"(?<!\w)(?:не|ничего)\s+(?:придет|приходит|пришло|пришел)")
_COMPLAINT_WORD_RE = re.compile(r"(?<!\w)(?:шагым|жалоб)\w*")
# What to bring, by errand and office: the pickup's or the application's.
# Units that say the citizen may go to one office, though their facts hold
# for every channel (they have no `channels`, so every office's question may
# still find them): after them the conversation is at that office.
UNIT_OFFICE = {
    "duplicate.apply.psc": "psc",
    "duplicate.apply.university_office": "provider",
}
# A unit of no office, and its counterpart at an office the conversation is
# at (_choose_unit): the portal wants the application alone.
OFFICE_VARIANTS = {
    ("duplicate.documents.identity", "portal"): "duplicate.portal.only_application",
    ("duplicate.documents.only_two", "portal"): "duplicate.portal.only_application",
}
# Facts that name the offices they hold for in their text, though they have
# no `channels`: a follow-up naming one of them gets the same fact again.
SAME_FACT_OFFICES = {"duplicate.eds.not_needed_in_person": frozenset({"provider", "psc"})}
# A fact of applying asked while collecting the duplicate ("жеке куәлік керек
# пе?" after how ЦОН hands it out): the same fact of the pickup.
PICKUP_VARIANTS = {"duplicate.documents.identity": "duplicate.pickup.identity"}
BRING_UNITS = {
    ("pickup", "psc"): "duplicate.pickup.psc",
    ("pickup", "portal"): "duplicate.pickup.portal",
    ("pickup", "provider"): "duplicate.pickup",
    ("pickup", None): "duplicate.pickup.identity",
    ("documents", "psc"): "duplicate.documents.psc",
    ("documents", "portal"): "duplicate.documents.portal",
    ("documents", "provider"): "duplicate.documents.provider",
    ("documents", None): "duplicate.documents",
}
# "When" words: a question about when results come is about the term.
_WHEN_RE = re.compile(
    r"\b(кашан|когда|какого числа|каи куни|каи кундери|каи кезде|кандаи мерзимде|до какого)\b"
)
# Handing documents in, and the originals (folded): "when do I hand the
# documents in?" asks for a term; "when are the originals due?" another.
_SUBMIT_RE = re.compile(
    r"\b(?:сда[вюмт]|пода[вюмт]|принима|тапсыр|кабылда|откиз|апар|нест|несу|принес|отнес|привез|отвез)"
)
_ORIGINALS_RE = re.compile(r"оригинал|тупнуска|подлинник")
# "тапсырудың белгілі бір мерзімі бар ма?", "срок подачи какой?" (folded): the
# term for handing in, not how long the answer takes.
# "қай мерзімге дейін тапсыру керек", "до какого числа подавать?" ask until
# when, which is the same term.
_SUBMISSION_TERM_RE = re.compile(
    r"(?<!\w)(?:тапсыру|подачи|сдачи|приема документов|кабылдау)\w*\s+(?:\w+\s+){0,2}?"
    r"(?:мерзим|срок)|(?<!\w)срок\w*\s+(?:подачи|сдачи|приема)"
    r"|(?<!\w)(?:мерзим|кашан|кун|уакыт|числ|срок)\w*\s+деиин\s+(?:\w+\s+){0,2}?(?:тапсыр|кабылда|откиз)"
    r"|(?<!\w)до\s+какого\s+(?:числа|срока|времени)?\s*(?:\w+\s+){0,2}?(?:пода|сда|принима)"
)
_DOCUMENTS_RE = re.compile(r"документ|кужат")
# "а сколько дней рассматривают?", "қанша күнде қарайды" (folded): how long
# something is considered, or when its answer comes.
_CONSIDERED_RE = re.compile(r"рассм[ао]тр|(?<!\w)кара(?:и|у|л|п)|жауап|ответ")
# "1414-тен басқа нөмір бар ма?", "кроме 1414 есть другой номер?" (folded):
# what contacts the order gives, not what 1414 is for.
_OTHER_NUMBER_RE = re.compile(
    r"1414\W*(?:тен|тан|нан|нен)?\s+(?:баска|другои|кроме)"
    r"|(?:кроме|помимо|баска|другои)\s+(?:\w+\s+)?1414"
)
# "Isn't it repealed?" (folded): whether the order still stands is a question
# on its legal basis, however briefly put ("так он же утратил силу, нет?").
_REPEAL_RE = re.compile(
    r"утрат\w*\s+(?:\w+\s+)?сил|сил\w*\s+утрат|недеиствител|не деиству"
    r"|отменил\w* (?:приказ|стандарт)|(?:приказ|стандарт)\w*\s+(?:\w+\s+)?отмен"
    r"|кушин\w*\s+(?:\w+\s+)?жо[иы]|кушинде м|кушинен аиырыл|буирык\w*\s+(?:\w+\s+)?жоиылг"
)
# Documents that are no education document (folded): "дубликат водительских
# прав", "жүргізуші куәлігінің телнұсқасы" ask of another state service,
# not of a diploma's duplicate, though the model hears "дубликат ... получить".
_OTHER_DOCUMENT_RE = re.compile(
    r"\b(?:водител\w?ск\w*|дубликат\w*\s+прав\b|жургизуши\w*|техпаспорт\w*|тех\.?\s*паспорт\w*|загранпаспорт\w*"
    r"|загран\w*\s+паспорт\w*|свидетельств\w*\s+о\s+рождени\w*|туу\s+туралы"
    r"|военн\w*\s+билет\w*|аскери\s+билет\w*|трудов\w*\s+книжк\w*|енбек\s+китапша\w*)"
)
# ... unless a document of ours is named too, or the services' own words.
_OUR_DOCUMENT_RE = re.compile(
    r"диплом|аттестат|приложени|косымша|грант|соц|алеуметтик|вуз|жоо|универ|институт"
)
# "... нужен?", "... керек пе?": whether a document is needed.
_NEEDED_RE = re.compile(r"\b(?:нуж\w*|надо|обязательн\w*|керек\w*|кажет\w*|миндетти\w*|талап\w*)")
# "какие документы", "қандай құжаттар": the list itself is asked.
_WHICH_RE = re.compile(r"\b(?:как\w*|кандаи|не\s+керек)\b")
# Words at most, for "is this document needed?" (not a story naming one).
NOT_LISTED_WORDS = 8
# A document asked for anew: its duplicate, a loss, a replacement.
_ANEW_RE = re.compile(r"дубликат|телнуска|восстанов|потерял|утерял|жогал|замен|ауыстыр|калпына")
# Right after the legal basis, "does it still apply?" asks the same.
_STANDS_RE = re.compile(r"деиству|в силе|кушинде|актуал")
_SCHEDULE_PLACES = {
    ("duplicate", "provider"): "duplicate.provider",
    ("duplicate", "psc"): "duplicate.psc",
    ("duplicate", "portal"): "duplicate.portal",
    ("grant", "provider"): "grant.provider",
    ("grant", "portal"): "grant.portal",
    ("social_support", "provider"): "grant.provider",
    ("social_support", "portal"): "grant.portal",
}


class UserDirectory(Protocol):
    """Where a user's remembered language lives (the user's database row)."""

    async def get_language(self, user_id: int) -> str | None: ...
    async def set_language(self, user_id: int, lang: str) -> None: ...


class MemoryUserDirectory:
    def __init__(self) -> None:
        self._langs: dict[int, str] = {}

    async def get_language(self, user_id: int) -> str | None:
        return self._langs.get(user_id)

    async def set_language(self, user_id: int, lang: str) -> None:
        self._langs[user_id] = lang


@dataclass
class Turn:
    """Everything one handled event needs; passed between the helpers below."""

    event: Event
    conv: Conversation
    lang: str
    parsed: ParseResult | None = None
    # The question the answer is about when the message asks several.
    question: str = ""
    # What the answer units are matched against: the whole message (a story
    # tells which fact is asked for), with the burst it ends when it ends one.
    said: str = ""
    # Set when a rule, not the model, settled the dialogue act ("when will
    # the results be?" asks for the term): the answer is one of its units.
    settled_intent: str | None = None
    # The office "туда", "ол жерге" points back at (_THERE_RE), if any.
    there: str | None = None


class Assistant:
    def __init__(
        self,
        nlu: NLU,
        kb: KnowledgeBase,
        calendar: Calendar,
        *,
        states: StateStore | None = None,
        users: UserDirectory | None = None,
        translator: Translator | None = None,
        clock: Callable[[], datetime] | None = None,
        flows: Sequence[Flow] = (),
    ) -> None:
        self.nlu = nlu
        self.kb = kb
        self.calendar = calendar
        self.states = states or MemoryStateStore()
        self.users = users or MemoryUserDirectory()
        self.t = translator or default_translator()
        self.clock = clock or calendar.now
        self.flows = {f.name: f for f in flows}
        self._flow_by_intent = {i: f for f in flows for i in f.intents}
        self.ranker = UnitRanker(kb)

    def context(self, turn: Turn) -> FlowContext:
        return FlowContext(
            turn.event.user_id,
            turn.lang,
            turn.conv,
            self.t,
            self.kb,
            self.calendar,
            self.clock,
            turn.parsed,
        )

    # -- entry point --------------------------------------------------------
    async def handle(self, event: Event) -> Outcome:
        self.kb.refresh()
        conv = await self.states.load(event.user_id)
        preferred = await self.users.get_language(event.user_id)
        hint = event.lang_hint if event.lang_hint in LANGS else None
        lang = conv.lang or preferred or hint or "kk"
        turn = Turn(event, conv, lang)
        if event.button is not None:
            outcome = await self._on_button(turn, event.button)
        else:
            outcome = await self._on_text(turn, event.text or "", preferred)
        turn.conv.lang = outcome.lang
        if event.text:
            turn.conv.remember("c", event.text)
        for reply in outcome.replies:
            turn.conv.remember("b", reply.text)
        await self.states.save(event.user_id, turn.conv)
        return outcome

    async def start(self, user_id: int) -> Outcome:
        """The first contact (/start): greeting in both languages, language choice."""
        await self.states.clear(user_id)
        preferred = await self.users.get_language(user_id)
        lang = preferred or "kk"
        reply = Reply(
            self.t(lang, "start-greeting") + "\n\n" + self.t(lang, "choose-language"),
            [[Button("Қазақша", "lang:kk"), Button("Русский", "lang:ru")]],
        )
        return Outcome([reply], lang, "start")

    async def set_language(self, user_id: int, lang: str) -> Outcome:
        if lang not in LANGS:
            lang = "kk"
        await self.users.set_language(user_id, lang)
        conv = await self.states.load(user_id)
        conv.lang = lang
        await self.states.save(user_id, conv)
        return Outcome(
            [Reply(self.t(lang, "lang-switched")), self.menu(lang)], lang, "switch_language"
        )

    def menu(self, lang: str) -> Reply:
        t = self.t
        return Reply(
            t(lang, "menu-title"),
            [
                [Button(t(lang, "btn-duplicate"), "svc:duplicate")],
                [
                    Button(t(lang, "btn-grant"), "svc:grant"),
                    Button(t(lang, "btn-social"), "svc:social_support"),
                ],
                [
                    Button(t(lang, "btn-documents"), "ask:ask_documents"),
                    Button(t(lang, "btn-schedule"), "ask:ask_schedule"),
                ],
                [
                    Button(t(lang, "btn-deadlines"), "ask:ask_processing_time"),
                    Button(t(lang, "btn-book"), "ask:book_queue"),
                ],
                [
                    Button(t(lang, "btn-status"), "ask:check_status"),
                    Button(t(lang, "btn-operator"), "op"),
                ],
                [Button(t(lang, "btn-language"), "lang:" + ("ru" if lang == "kk" else "kk"))],
            ],
        )

    # -- buttons --------------------------------------------------------------
    async def _on_button(self, turn: Turn, payload: str) -> Outcome:
        verb, _, arg = payload.partition(":")
        conv, lang = turn.conv, turn.lang
        if verb in self.flows:
            return await self.flows[verb].on_button(self.context(turn), payload)
        if verb == "lang" and arg in LANGS:
            return await self.set_language(turn.event.user_id, arg)
        if verb == "menu":
            return Outcome([self.menu(lang)], lang, "help")
        if verb == "cancel":
            # /cancel leaves whatever activity is under way (a booking or an
            # application form not yet confirmed, a hand-off) and shows the menu.
            active = self.flows.get(conv.flow or "")
            cancel = getattr(active, "cancel", None)
            if cancel is not None:
                await cancel(self.context(turn))
            conv.flow, conv.flow_data, conv.pending_intent = None, {}, None
            return Outcome([self.menu(lang)], lang, "cancel")
        if verb == "op":
            flow = self._flow_by_intent.get("request_operator")
            if flow is not None and arg == NOT_UNDERSTOOD and hasattr(flow, "begin"):
                # "Shall I pass you to a person?" after two misses: yes. The
                # staff are told why (the bot did not understand twice).
                return await flow.begin(self.context(turn), NOT_UNDERSTOOD)
            if flow is not None:
                return await flow.on_intent(self.context(turn), "request_operator")
            return self._operator(turn)
        if verb == "cite":
            return self._full_citation(lang, arg)
        if verb == "svc" and arg in SERVICES:
            conv.last_service = arg
            intent = conv.pending_intent
            conv.pending_intent = None
            if intent is None:
                return Outcome([self._service_topics(lang, arg)], lang, None)
            return self._answer(turn, intent, arg, None)
        if verb == "ch" and arg in CHANNELS and conv.last_intent:
            # The office pressed is the one a short follow-up ("а до скольки")
            # asks about from now on, not one a message named before.
            conv.last_channel = conv.named_channel = arg
            return self._answer(turn, conv.last_intent, conv.last_service, arg)
        if verb == "ask":
            intent, _, service = arg.partition(":")
            flow = self._flow_by_intent.get(intent)
            if flow is not None:
                if service in SERVICES:
                    conv.last_service = service
                return await flow.on_intent(self.context(turn), intent)
            if intent in KNOWLEDGE_INTENTS or intent in ACTION_INTENTS:
                conv.misses = 0
                return self._route(turn, intent, service or conv.last_service, None)
            if intent == "request_operator":
                return self._operator(turn)
        # Unknown or forged payload: change nothing, say so, show what we can do.
        log.info("unknown button payload %r", payload[:64])
        return Outcome([Reply(self.t(lang, "stale-button")), self.menu(lang)], lang, None)

    # -- text -----------------------------------------------------------------
    async def _rejoined(self, turn: Turn) -> Flow | None:
        """A conversation with no state (new, or its state lost): a flow kept
        in the database (an open hand-off) takes it back."""
        for flow in self.flows.values():
            rejoin = getattr(flow, "rejoin", None)
            if rejoin is not None and await rejoin(self.context(turn)):
                return flow
        return None

    async def _on_text(self, turn: Turn, text: str, preferred: str | None) -> Outcome:
        conv = turn.conv
        active = self.flows.get(conv.flow or "")
        if active is None and not conv.recent:
            active = await self._rejoined(turn)
        if active is not None:
            handled = await active.on_text(self.context(turn), text)
            if handled is not None:
                return handled
        parsed = await self.nlu.parse(text)
        turn.parsed = parsed
        turn.lang = self._language(conv, preferred, parsed, turn.lang)
        lang = turn.lang
        if parsed.intent == FALLBACK_INTENT and not parsed.ranking:
            return self._with(parsed, Outcome([Reply(self.t(lang, "empty-message"))], lang, None))
        turn.said = text
        parsed = _stipend_of_grant(await self._focus(turn, text, parsed), conv.last_service)
        turn.parsed = parsed
        await self.ranker.prepare(turn.said or parsed.text, turn.question)
        outcome = await self._understand(turn, parsed)
        if outcome.intent in EMPTY_HANDED and len(text) < 200:
            conv.fragments = [*conv.fragments, [self.clock().timestamp(), text]][-BURST_KEPT:]
        else:
            conv.fragments = []
        if outcome.units:
            # Two questions in one message: answer the second one too.
            await self._second_question(turn, text, parsed, outcome)
        self._note_repeal(turn, outcome)
        named = turn.parsed.values("channel") if turn.parsed else set()
        conv.named_channel = next(iter(named)) if len(named) == 1 else None
        return outcome

    def _language(
        self, conv: Conversation, preferred: str | None, parsed: ParseResult, current: str
    ) -> str:
        """The reply's language: the message's, unless a short message ("ал портал
        ше?", "а в субботу?") would flip an established conversation."""
        known = conv.lang or preferred
        if not known or parsed.mixed:
            # Written in both languages: the one most of its words are in, as
            # the citizen reads it ("а если ЭЦП жоқ?" is Russian).
            return parsed.language
        if parsed.language == known:
            return known
        words = [w for w in parsed.normalized.split() if any(c.isalpha() for c in w)]
        if len(words) <= 4:
            if known == "kk" and (
                _KAZAKH_LETTERS_RE.search(parsed.text) or _KAZAKH_PARTICLES & set(words)
            ):
                return "kk"
            if (
                known == "kk"
                and parsed.language == "ru"
                and parsed.language_confidence >= PLAIN_SWITCH_CONFIDENCE
                and sum(len(w) >= 4 for w in words) >= PLAIN_SWITCH_WORDS
                and kazakh_grammar_words(parsed.text) == 0
            ):
                return "ru"
            if parsed.language_confidence < SHORT_SWITCH_CONFIDENCE:
                return known
        if parsed.language_confidence >= LANG_CONFIDENCE:
            return parsed.language
        return current

    async def _focus(self, turn: Turn, text: str, parsed: ParseResult) -> ParseResult:
        """The question in a message that starts with a greeting or a story,
        that asks two things, or that finishes a burst of short messages."""
        clauses, questions = _question_clauses(text)
        if len(questions) >= 2:
            # "куда обращаться и сколько это займёт?": the first question now,
            # the second after it (_second_question); the story's service holds.
            first = await self.nlu.parse(questions[0])
            if self._confident(first) and first.intent in KNOWLEDGE_INTENTS:
                turn.question = questions[0]
                if all(_ASKS_WHAT_RE.search(fold(q)) for q in questions[1:]):
                    # The words that choose the first answer are the story's
                    # and the first question's: "где получить дубликат, сколько
                    # дней делается" is where now, how long after it ("куда
                    # придет? в личный кабинет?" asks one thing twice).
                    turn.said = " ".join(c.strip() for c in clauses if c not in questions[1:])
                return _inherit(first, parsed)
        if (
            len(questions) == 1
            and len(clauses) >= 2
            and (
                parsed.confidence < STORY_SURE
                # "...40 күн өтті, университет ештеңе істемей жатыр. порталдан
                # бергендерге шағым қалай болады?": a story of an application
                # half-read as "check my status"; the question asks something.
                or (parsed.intent in REQUEST_INTENTS and parsed.confidence < ACTION_SURE)
            )
            and questions[0].strip() != text.strip()
        ):
            # "я сирота, папа умер ... что мне приложить к документам на
            # грант?": the story colours the whole; the question says what
            # is asked (the story's service holds).
            asked = await self.nlu.parse(questions[0])
            if (
                self._confident(asked)
                and asked.intent in KNOWLEDGE_INTENTS
                and asked.confidence >= QUESTION_SURE
            ):
                turn.question = questions[0]
                return _inherit(asked, parsed)
        if self._confident(parsed) and parsed.intent not in EMPTY_HANDED:
            return parsed
        tries: list[tuple[str, bool]] = []
        stripped = GREETING_RE.sub("", fold(text)).strip()
        if stripped and stripped != fold(text) and len(stripped.split()) >= 2:
            tries.append((stripped, False))
        if len(clauses) >= 2 and questions:
            tries.append((" ".join(questions), False))
        named = parsed.entity("service") or parsed.entity("channel")
        noise = parsed.intent == FALLBACK_INTENT and parsed.confidence == 0.0
        if (
            not named
            and not noise
            and (parsed.intent in BURST_TRIGGERS or not self._confident(parsed))
        ):
            # ("а через цон?" names what it follows up on: not a burst; keyboard
            # noise ends nothing: the question before it was answered already.)
            announces = (
                _ANNOUNCE_RE.search(parsed.normalized) is not None
                and len(parsed.normalized.split()) <= ANNOUNCE_WORDS
            )
            earlier = [] if announces else self._burst_before(turn, topical=parsed.intent != "help")
            if earlier:
                joined = " ".join([*earlier, text])
                tries.append((joined, True))
                # Even if the whole burst parses to nothing confident, its
                # words may name a unit plainly (_choose_unit's rescue).
                turn.said = joined
        for candidate, burst in tries:
            if not candidate or candidate == text:
                continue
            again = await self.nlu.parse(candidate)
            if self._confident(again) and again.intent not in EMPTY_HANDED:
                if burst:
                    turn.said = candidate
                return _inherit(again, parsed)
        return parsed

    def _burst_before(self, turn: Turn, *, topical: bool = False) -> list[str]:
        """The citizen's messages just before this one (a burst typed on a
        phone: "я потеряла диплом", "КазНУ", "что мне делать"). `topical`:
        the message is more than a call for help ("жауабын қалай алам" after
        a complaint, "жинап болған соң кімге апарам?"): right after an answer
        it follows that answer up or asks anew, and is not read with the
        question answered (that gave the same answer again)."""
        conv = turn.conv
        if time.time() - conv.updated > BURST_SECONDS:
            return []
        said = [text for who, text in conv.recent if who == "c"]
        # The fragments kept since the last answer, and the message answered
        # last ("я потеряла диплом" / "КазНУ" / "что мне делать"); not the
        # questions answered before it ("сколько делается дубликат?", "а по
        # гранту когда результаты?", "где их смотреть": grants, not duplicates).
        kept = {str(f[1]) for f in conv.fragments if isinstance(f, list) and len(f) == 2}
        if topical and said and said[-1] not in kept:
            return []
        start = len(said)
        while start > 0:
            start -= 1
            if said[start] not in kept:
                break
        return said[start:][-(BURST_KEPT - 1) :]

    def _category_documents(
        self, turn: Turn, parsed: ParseResult, intent: str, service: str | None
    ) -> Entry | None:
        """ "Грантқа қандай қосымша құжат керек?" from a citizen who said they
        have no parents (now or a message ago): that category's documents,
        not the whole list again."""
        own = service or turn.conv.last_service
        if intent != "ask_documents" or own not in ("grant", "social_support"):
            return None
        if not _EXTRA_RE.search(parsed.normalized):
            return None
        for text in _told(turn, parsed):
            for category, words in _CATEGORY_RES:
                if words.search(text):
                    with contextlib.suppress(KeyError):
                        return self.kb.get(f"{own}.documents.{category}")
        return None

    def _reason_asked(self, turn: Turn, parsed: ParseResult, service: str | None) -> Entry | None:
        """ "Дубликат дадут?" after "собака диплом погрызла": whether what
        happened is a reason the standard names (a torn diploma is), not
        what the result of the service is."""
        if (service or turn.conv.last_service) not in (None, "duplicate"):
            return None
        if not _GIVEN_RE.search(parsed.normalized) or _WHEN_WHERE_RE.search(parsed.normalized):
            return None
        if not _THE_COPY_RE.search(parsed.normalized):
            return None  # "колхат бере ме" asks for another paper
        if parsed.values("channel"):
            return None  # "в цоне дадут?" asks where, not whether
        for text in _told(turn, parsed):
            for unit, words in _REASON_RES:
                if words.search(text):
                    with contextlib.suppress(KeyError):
                        return self.kb.get(unit)
        return None

    @staticmethod
    def _collecting(turn: Turn, parsed: ParseResult) -> bool:
        """The message is about collecting the ready duplicate: it says so
        ("дайын болса", "алу үшін келгенде"), or the conversation is at its
        pickup."""
        return (
            _COLLECT_RE.search(parsed.normalized) is not None
            or _GOING_TO_COLLECT_RE.search(parsed.normalized) is not None
            or _at_pickup(turn.conv)
        )

    def _what_to_bring(
        self, turn: Turn, parsed: ParseResult, service: str | None, channel: str | None
    ) -> Entry | None:
        """ "ХҚО-ға не алып баруым керек": to collect the duplicate when the
        message says it is ready (or the conversation is at its pickup), else
        to apply; of the office named, or of the conversation's office."""
        conv = turn.conv
        if (service or conv.last_service) != "duplicate" or not _BRING_RE.search(parsed.normalized):
            return None
        collecting = self._collecting(turn, parsed)
        office = channel if len(parsed.values("channel")) <= 1 else None
        if office is None and not parsed.values("channel"):
            # The conversation's office: the answer's, or the one the last
            # message named ("ЦОН-ға барсам қабылдай ма?" then "онда не апару керек").
            office = conv.last_channel or conv.named_channel
        if collecting and office in (None, "psc") and _ELSE_RE.search(parsed.normalized):
            # "сенімхаттан басқа тағы не ала барамын": with the identity card
            # or the power of attorney, ЦОН wants the receipt.
            return self._unit("duplicate.pickup.receipt")
        errand = "pickup" if collecting else "documents"
        with contextlib.suppress(KeyError):
            return self.kb.get(BRING_UNITS[(errand, office)])
        return None

    def _where_to_collect(
        self, turn: Turn, parsed: ParseResult, service: str | None
    ) -> Entry | None:
        """ "al qaida baryp alam" after the notice that the duplicate is
        ready: where it is collected (the portal's answer when the portal is
        named or the conversation is at it, ЦОН's when at ЦОН), not where one
        applies."""
        conv, said = turn.conv, parsed.normalized
        if (service or conv.last_service) != "duplicate":
            return None
        if not (_WHERE_RE.search(said) and _GET_RE.search(said)):
            return None
        ready = _COLLECT_RE.search(said) is not None or (
            conv.last_unit in READY_UNITS or _family(conv.last_unit) == "duplicate.pickup"
        )
        if not ready or len(_own_words(parsed)) > FAMILY_WORDS:
            return None
        named = parsed.values("channel")
        office = next(iter(named)) if len(named) == 1 else None if named else conv.last_channel
        # Applied at ЦОН ("HQKO arqyly tapsyrdym"), collected there: ЦОН's way.
        unit = {"portal": "duplicate.pickup.portal", "psc": "duplicate.pickup.psc"}
        return self._unit(unit.get(office or "", "duplicate.pickup"))

    def _portal_after_hours(
        self, turn: Turn, parsed: ParseResult, service: str | None
    ) -> Entry | None:
        """ "порталдан түнде жіберсем қабылдай ма?", or "ол қашан принят
        болады?" after "кеше түнде через портал подала": an application sent
        through the portal out of hours is accepted on the next working day;
        not the application period, nor how long the service takes."""
        own = service or turn.conv.last_service
        said = parsed.normalized
        if own not in ("duplicate", "grant") or not _ACCEPTED_RE.search(said):
            return None
        if not (_SENT_RE.search(said) or _WHEN_RE.search(said)):
            return None
        told = _told(turn, parsed)[: 1 + RECENT_TOLD // 2]
        portal = "portal" in parsed.values("channel") or any(
            any(f.value == "portal" for f in lexicon(text)) for text in told
        )
        if not portal or not any(_AFTER_HOURS_RE.search(text) for text in told):
            return None
        return self._unit(f"{own}.schedule.portal_after_hours")

    def _which_receipt(
        self, turn: Turn, parsed: ParseResult, intent: str, service: str | None
    ) -> Entry | None:
        """ "колхат бере ме?": the receipt of the office the message names or
        the conversation is at (the portal has none: its status tells); the
        grant's receipt during grants. Not when collecting the duplicate (ЦОН
        wants the receipt back then: _what_to_bring), nor of a complaint."""
        said, conv = parsed.normalized, turn.conv
        if not _RECEIPT_RE.search(said):
            return None
        if (
            intent in REQUEST_INTENTS
            and parsed.confidence >= (ASKED_ACTION_SURE if _asks(parsed) else ACTION_SURE)
            and (_STATUS_RE.search(said) or _LEARN_RE.search(said) or not _asks(parsed))
        ):
            # "қолхаттағы нөмір бойынша статусымды тексеріңіз"; not "мне там
            # ничего не дали, расписка вообще положена?" (read as the status)
            return None
        if _COMPLAINT_WORD_RE.search(said):
            return None
        own = service or conv.last_service
        if own == "grant":
            return self._unit("grant.documents.receipt")
        if own != "duplicate":
            return None
        if _COLLECT_RE.search(said) or _RECEIPT_KEPT_RE.search(said) or _at_pickup(conv):
            return None
        named = parsed.values("channel")
        office = (
            next(iter(named))
            if len(named) == 1
            else (None if named else conv.last_channel or conv.named_channel)
        )
        return self._unit(RECEIPT_UNITS.get(office or "", ""))

    def _appeal(self, turn: Turn, parsed: ParseResult, service: str | None) -> Entry | None:
        """ "жауабына келіспесем ше?", "а если ответ не устроит" after a
        complaint, "нәтижесі ұнамаса ше": where to go when the answer or the
        result does not satisfy (the duplicate's standard says; not a "no")."""
        said, conv = parsed.normalized, turn.conv
        if (service or conv.last_service) != "duplicate":
            return None
        # "кому выше писать?", "жоғарғы органға қалай жазамын": higher up.
        if not (_DISAGREE_RE.search(said) or _HIGHER_RE.search(said)):
            return None
        if not (
            _OUTCOME_WORD_RE.search(said)
            or _COMPLAINT_WORD_RE.search(said)
            or _family(conv.last_unit) == "duplicate.complaint"
        ):
            return None
        return self._unit("duplicate.complaint.appeal")

    def _status_and_eds(self, turn: Turn, parsed: ParseResult, service: str | None) -> Entry | None:
        """ "ЭЦҚ-м жоқ" after how to learn the duplicate's status, "ЭЦП бар,
        өзім қарай аламын ба": the status seen remotely with an EDS, from the
        contact centre without one; not what the EDS is for."""
        conv, said = turn.conv, parsed.normalized
        own = service or conv.last_service
        if own not in WITHOUT_EDS_UNITS or not _EDS_RE.search(said):
            return None
        without = _NO_EDS_RE.search(said) is not None
        of_status = _STATUS_RE.search(said) is not None or (
            conv.last_intent == "check_status"
            and (len(_own_words(parsed)) <= FAMILY_WORDS or _LEARN_RE.search(said) is not None)
        )
        if (
            _WITHOUT_EDS_RE.search(said)
            and not _HAS_IT_AFTER_ALL_RE.search(said)
            and not of_status
            and not _SIGN_OR_APPLY_RE.search(said)
            and (
                parsed.intent in WITHOUT_EDS_INTENTS
                or not self._confident(parsed)
                # "ESQ sız bola ma": nothing but the question, whatever the model read
                or (_EDS_LESS_RE.search(said) and len(said.split()) <= FAMILY_WORDS)
            )
        ):
            # "у меня нет эцп", "ЭЦК алмагам, порталмен жибере алам ба": the
            # way without one (the university or ЦОН), not what the EDS is
            # for; at the portal, that it needs one and where else to go.
            named = parsed.values("channel")
            at_portal = (
                "portal" in named
                or _ONLINE_RE.search(said) is not None
                or (not named and conv.last_channel == "portal")
            )
            if own == "duplicate" and at_portal:
                return self._unit("duplicate.eds.portal_condition")
            return self._unit(WITHOUT_EDS_UNITS[own])
        if own != "duplicate" or _SUBMIT_RE.search(said) or _SIGN_OR_APPLY_RE.search(said):
            return None
        if not of_status:
            return None
        return self._unit(
            "duplicate.status.contact_centre" if without else "duplicate.status.remote_eds"
        )

    def _archive(self, turn: Turn, parsed: ParseResult, service: str | None) -> Entry | None:
        """ "мұрағаттың мекенжайын айтып жіберіңізші": the archive is the
        closed university's answer, which says the order gives no addresses;
        not the contacts of the offices."""
        said = parsed.normalized
        if (service or turn.conv.last_service) not in (None, "duplicate"):
            return None
        if _ARCHIVE_RE.search(said) and _REACH_RE.search(said):
            return self._unit("duplicate.university_closed")
        return None

    def _complaint_on_portal(
        self, turn: Turn, parsed: ParseResult, service: str | None
    ) -> Entry | None:
        """ "хочу жалобу через портал, где ее потом смотреть?", or "ал егов
        арқылы болса ше, қайдан отслеживать етем" after a complaint: the
        personal cabinet where the complaint's progress shows."""
        conv, said = turn.conv, parsed.normalized
        if (service or conv.last_service) not in (None, "duplicate"):
            return None
        about = _COMPLAINT_WORD_RE.search(said) is not None or conv.last_intent == "complaint"
        if about and _PORTAL_WORD_RE.search(said) and _FOLLOW_RE.search(said):
            return self._unit("duplicate.complaint.portal_cabinet")
        return None

    def _representative_collects(
        self, turn: Turn, parsed: ParseResult, intent: str, service: str | None
    ) -> Entry | None:
        """ "дайын болғанда мен алып кете аламын ба" just after "may I apply
        for my brother?": whether the representative may collect it (a
        notarised power of attorney), not where duplicates are collected."""
        conv = turn.conv
        if (service or conv.last_service) != "duplicate" or intent != "ask_pickup":
            return None
        if _family(conv.last_unit) != "duplicate.representative":
            return None
        if len(_own_words(parsed)) > FAMILY_WORDS or parsed.values("channel"):
            return None
        if _RECEIPT_RE.search(parsed.normalized):
            return None  # "и расписка нужна?": the receipt, shown at pickup
        return self._unit("duplicate.representative.power_of_attorney")

    def _psc_for_grants(
        self, turn: Turn, parsed: ParseResult, intent: str, service: str | None
    ) -> Entry | None:
        """ "ХҚО арқылы тапсыруға бола ма" during grants or social support:
        that the standard names no ЦОН for them (the universities and the
        portal), not the duplicate's ЦОН, which the office alone would pick.
        Only when the citizen named that service: "вузга кужат откизгенде
        кагаз бере ме" then "ЦОН да ше" is read as grants by default, but
        ЦОН says it is the duplicate."""
        of_grants = ("grant", "social_support")
        if (service or turn.conv.last_service) not in of_grants:
            return None
        named = any(
            f.entity == "service" and f.value in of_grants
            for text in _told(turn, parsed)
            for f in lexicon(text)
        )
        if not named:
            return None
        if parsed.values("channel") != {"psc"} or parsed.values("service") - set(of_grants):
            return None
        if intent in PSC_GRANT_INTENTS or _SUBMIT_RE.search(parsed.normalized):
            return self._unit("grant.where_to_apply.psc")
        return None

    def _complaint_addressee(
        self, turn: Turn, parsed: ParseResult, service: str | None
    ) -> Entry | None:
        """ "кімнің атына жазамын", "кому ее надо было адресовать?" after a
        complaint about the duplicate: whom the complaint is addressed to,
        not the application form's addressee (no form named)."""
        conv, said = turn.conv, parsed.normalized
        if (service or conv.last_service) != "duplicate":
            return None
        of_complaint = conv.last_intent == "complaint" or (conv.last_unit or "").startswith(
            "duplicate.complaint"
        )
        if not of_complaint or _FORM_WORDS_RE.search(said) or not _ADDRESSEE_RE.search(said):
            return None
        if _HIGHER_RE.search(said):
            return None  # "выше кому писать": where to go after the answer
        return self._unit("duplicate.complaint.whom")

    def _left_at_psc(self, turn: Turn, parsed: ParseResult, service: str | None) -> Entry | None:
        """ "әпкем жарты жыл бұрын тапсырған, алуды ұмытып кетіпті": a ready
        duplicate not collected: how long ЦОН keeps it and how it comes back
        from the university; not the status, nor the pickup in general."""
        said = parsed.normalized
        if (service or turn.conv.last_service) != "duplicate":
            return None
        left = _LEFT_UNCOLLECTED_RE.search(said) is not None or (
            _READY_RE.search(said) is not None and _NOT_COLLECTED_RE.search(said) is not None
        )
        if left and not _COMPLAINT_WORD_RE.search(said):
            return self._unit("duplicate.pickup.storage")
        return None

    def _ready_notice(self, turn: Turn, parsed: ParseResult, service: str | None) -> Entry | None:
        """ "уведомление придет когда будет готово?", "дайын болғанын қайдан
        білемін": whether the citizen is told the duplicate is ready (the
        portal sends a notice; for the offices the standard says none), not
        how long it takes nor the receipt."""
        said = parsed.normalized
        if (service or turn.conv.last_service) != "duplicate" or not _READY_RE.search(said):
            return None
        if _NOTICE_CAME_RE.search(said) or _READY_YET_RE.search(said):
            return None  # "уведомление пришло, что готово": told, not asked
        if _NOTICE_RE.search(said) or _HOW_LEARN_RE.search(said):
            return self._unit("duplicate.result.ready_notification")
        return None

    def _electronic_duplicate(
        self, turn: Turn, parsed: ParseResult, intent: str, service: str | None
    ) -> Entry | None:
        """ "dublikattyn ozin pdf qylyp zhiberip zhibere me", "можно скачать
        дубликат с егова?": read as where it is collected; the standard's
        answer is that it is issued on paper only."""
        if (service or turn.conv.last_service) != "duplicate":
            return None
        said = parsed.normalized
        if intent not in ("ask_pickup", "ask_result", "ask_where_to_apply"):
            return None
        if not _ELECTRONIC_COPY_RE.search(said) or _FORM_WORDS_RE.search(said):
            return None  # "где скачать бланк заявления": the form, not the duplicate
        if _SERVICE_FORM_RE.search(said):
            return None  # "услугу оказывают в электронном виде?": the form of service
        return self._unit("duplicate.result.paper_only")

    def _what_was_meant(
        self, turn: Turn, parsed: ParseResult, confident: bool, service: str | None
    ) -> Entry | None:
        """ "растайтын құжат дегеніңіз нақты қайсысы?", "что вы имеете в виду
        под подтверждающими?": a word of the answer just given, asked about;
        the model finds no topic in it, or that answer's own (its general
        answer). The standard says no more than that answer: it again, with
        its clause."""
        if not _MEANT_RE.search(parsed.normalized):
            return None
        last = self._unit(turn.conv.last_unit or "")
        if last is None or (service is not None and service not in last.services):
            return None
        if confident:
            if parsed.intent not in last.intents:
                return None  # sure of another topic: asked anew
            own = self._choose_unit(turn, parsed, parsed.intent, True, service, None)
            if own is not None and own.id != last.id:
                # "30 күн дегеніңіз жұмыс күні ме?": a fact of its own (calendar days).
                return None
        return last

    def _what_comes_to_the_cabinet(
        self, turn: Turn, parsed: ParseResult, service: str | None
    ) -> Entry | None:
        """ "жеке кабинетке жалпы не келеді?", "что еще придет в личный
        кабинет?": during grants, everything the portal sends there (the
        acceptance or refusal, the award or refusal), not only where the
        award's notice comes; during a duplicate, the ready notice with where
        to collect it."""
        # This message's words, not a burst's joined with it.
        said, own = fold(turn.event.text or ""), service or turn.conv.last_service
        # "а если через сайт подаст, что ей придет когда будет готово": the
        # portal named, what comes from it.
        portal = "portal" in parsed.values("channel") and _READY_RE.search(said) is not None
        if own not in ("grant", "duplicate") or ("кабинет" not in said and not portal):
            return None
        if not _WHAT_COMES_RE.search(said) or _WHERE_RE.search(said):
            return None
        if _NOT_COMING_RE.search(said):
            return None  # "ничего не приходит": told, not asked
        if own == "duplicate" and (
            turn.conv.last_intent == "complaint" or _COMPLAINT_WORD_RE.search(said)
        ):
            return None  # what comes about a complaint: the complaint's answer
        return self._unit(f"{own}.result.portal")

    def _unit(self, unit_id: str) -> Entry | None:
        """The knowledge base's unit `unit_id`; None when there is none."""
        with contextlib.suppress(KeyError):
            return self.kb.get(unit_id)
        return None

    @staticmethod
    def _confident(parsed: ParseResult) -> bool:
        return parsed.intent != FALLBACK_INTENT and parsed.confidence >= CONFIDENCE_THRESHOLD

    async def _understand(self, turn: Turn, parsed: ParseResult) -> Outcome:
        conv, lang = turn.conv, turn.lang
        service = parsed.entity("service")
        channel = parsed.entity("channel")
        if len(parsed.values("channel")) > 1:
            # "график ЦОНа и канцелярии вуза": the answer for every office
            # (the words may still choose a unit of one of them).
            channel = None
        elif channel is None and _THERE_RE.search(parsed.normalized):
            # "можно сдать в цон?" then "какие документы туда": the office
            # the last message named, or the one the answer was of.
            channel = turn.there = conv.named_channel or conv.last_channel
        intent = parsed.intent
        confident = self._confident(parsed)
        top_two = [r["name"] for r in parsed.ranking[:2]]
        if _WHEN_RE.search(parsed.normalized) and (
            intent == "ask_result" or set(top_two) == {"ask_result", "ask_processing_time"}
        ):
            # "When will the results be?" asks for the term, not for what the result is.
            intent, confident = "ask_processing_time", True
            turn.settled_intent = intent
        if (
            (
                intent in ("ask_documents", "ask_application_period")
                # "грантка кужаттарды кашан тапсырады" read as where to apply
                or (intent == "ask_where_to_apply" and not _WHERE_RE.search(parsed.normalized))
                # "грантқа өтінішті қай кезде қабылдайды" read as nothing sure
                or not confident
            )
            and (service or conv.last_service) == "grant"
            and _WHEN_RE.search(parsed.normalized)
            and _SUBMIT_RE.search(parsed.normalized)
            and (_DOCUMENTS_RE.search(said := parsed.normalized) or _FORM_WORDS_RE.search(said))
            and not _ORIGINALS_RE.search(parsed.normalized)
        ):
            # "граннтка когда документы сдавать?" asks for 23-31 July, not
            # for the list of documents (nor when the originals are due).
            intent, confident = "ask_application_period", True
            turn.settled_intent = intent
        if (
            # "қай уақытқа дейін тапсырып үлгеру керек" read as nothing sure,
            # "қай күнге дейін өткізіп үлгеремін" as the timetable.
            (intent in ("ask_processing_time", "ask_schedule") or not confident)
            and (service or conv.last_service) in ("grant", "social_support")
            and _SUBMISSION_TERM_RE.search(parsed.normalized)
            and not _ORIGINALS_RE.search(parsed.normalized)
        ):
            # "тапсырудың белгілі бір мерзімі бар ма?" during social support:
            # when applications are taken, not how long they are considered.
            intent, confident = "ask_application_period", True
            turn.settled_intent = intent
        if (
            intent == "ask_processing_time"
            and conv.last_intent == "complaint"
            and service in (None, conv.last_service)
            and len(parsed.normalized.split()) <= FAMILY_WORDS
            and _CONSIDERED_RE.search(parsed.normalized)
        ):
            # "а сколько дней рассматривают?" just after a complaint: the
            # complaint's term (or that the order sets none), not how long
            # the service takes.
            intent, confident = "complaint", True
            turn.settled_intent = intent
        if (
            (intent in PROXY_INTENTS and _PROXY_RE.search(parsed.normalized))
            or (intent == "ask_where_to_apply" and _ON_BEHALF_RE.search(parsed.normalized))
            # "өтінішін оның орнына мен өткізе аламын ба": the citizen in
            # another's place (not "вместо Нурлан написано Нурлон")
            or (
                intent == "ask_application_form"
                and _IN_ANOTHERS_PLACE_RE.search(parsed.normalized) is not None
            )
        ) and (service or conv.last_service) in (None, "duplicate"):
            # "а забрать готовый смогу вместо неё?", "мен за неё заявление
            # подать могу?": whether another person may do it (the
            # representative), not the citizen's own pickup or form.
            intent, confident = "ask_representative", True
            turn.settled_intent = intent
        if (
            intent == "submit_application"
            and _ALREADY_APPLIED_RE.search(parsed.normalized)
            and not _WANTS_RE.search(parsed.normalized)
        ):
            # "я уже подала заявление на дубликат в цон": what the citizen
            # did, not a wish to fill in the form; the words decide, or we ask.
            confident = False
        elif _applies_here(parsed.normalized, intent):
            # The form (or why grants are not taken here), not "yes, at the
            # university's office".
            intent, confident = "submit_application", True
            turn.settled_intent = intent
        if (
            intent in STORY_INTENTS
            and parsed.confidence < SURE_OF_TOPIC
            and _WHAT_TO_BRING_RE.search(parsed.normalized)
            and (own := service or conv.last_service) in ("grant", "social_support", "duplicate")
            # a representative of a duplicate's applicant: the representative's answer
            and not (intent == "ask_representative" and own == "duplicate")
        ):
            # "...порталдан грантқа тапсырып бергім келеді, порталға не
            # жүктейміз": a story of applying, then what to upload; the
            # question is answered, not the form offered (nor the result).
            intent, confident = "ask_documents", True
            turn.settled_intent = intent
        if (
            intent not in ("my_bookings", "cancel_booking")
            and _SHOW_RE.search(parsed.normalized)
            and _MY_BOOKINGS_RE.search(parsed.normalized)
            and not _REMOVE_RE.search(parsed.normalized)
        ):
            # "менің жазбаларымды көрсетші" read as anything else.
            intent, confident = "my_bookings", True
            turn.settled_intent = intent
        if intent == "book_queue":
            # "...брон жасап қойып едім, жазылуларымды көрсетіңізші": to see
            # them; "кестесін жазып жіберіңізші": the timetable, written out.
            settled = _booking_or_not(parsed.normalized)
            if settled is not None:
                intent, confident = settled, True
                turn.settled_intent = intent
        elif (
            intent == "cancel_booking"
            and _REMOVE_RE.search(parsed.normalized)
            and _BOOKING_WORD_RE.search(parsed.normalized)
        ):
            # "записался на завтра, уберите эту запись", the model unsure: a
            # booking named and taken away, not a question about bookings.
            confident = True
            turn.settled_intent = intent
        elif (
            not confident
            and len(parsed.normalized.split()) <= FAMILY_WORDS
            and _TIMETABLE_RE.search(parsed.normalized)
            and not _BOOKING_WORD_RE.search(parsed.normalized)
        ):
            # "жалпы кестені толық айтыңызшы" (read as nothing sure): a short
            # message naming the timetable asks for it.
            intent, confident = "ask_schedule", True
            turn.settled_intent = intent
        extra = (
            self._category_documents(turn, parsed, intent, service)
            or self._reason_asked(turn, parsed, service)
            or self._what_to_bring(turn, parsed, service, channel)
            or self._which_receipt(turn, parsed, intent, service)
            or self._appeal(turn, parsed, service)
            or self._status_and_eds(turn, parsed, service)
            or self._where_to_collect(turn, parsed, service)
            or self._ready_notice(turn, parsed, service)
            or self._archive(turn, parsed, service)
            or self._complaint_on_portal(turn, parsed, service)
            or self._left_at_psc(turn, parsed, service)
            or self._psc_for_grants(turn, parsed, intent, service)
            or self._complaint_addressee(turn, parsed, service)
            or self._representative_collects(turn, parsed, intent, service)
            or self._portal_after_hours(turn, parsed, service)
            or self._what_comes_to_the_cabinet(turn, parsed, service)
            or self._what_was_meant(turn, parsed, confident, service)
            or self._electronic_duplicate(turn, parsed, intent, service)
        )
        if extra is not None:
            conv.misses = 0
            return self._with(parsed, self._answer_unit(turn, extra, service))
        other = _OTHER_DOCUMENT_RE.search(parsed.normalized) is not None
        if other and _asks_of_another_document(parsed.normalized, conv.last_service):
            # "дубликат водительских прав как получить": not ours to answer
            # (the diploma's pickup would mislead); who can, is said.
            turn.settled_intent = "out_of_scope"
            return self._with(parsed, self._route(turn, "out_of_scope", None, None))
        context = service or conv.last_service
        if _OTHER_NUMBER_RE.search(parsed.normalized):
            intent, confident = "ask_contacts", True
            turn.settled_intent = intent
            general = next(
                (
                    e
                    for e in self.kb.entries
                    if "ask_contacts" in e.intents
                    and context in e.services
                    and not e.detail
                    and not e.channels
                ),
                None,
            )
            if general is not None:
                conv.misses = 0
                return self._with(parsed, self._answer_unit(turn, general, service))
        if other and context is not None and _asks_if_document_is_needed(parsed.normalized):
            # "а свидетельство о рождении нужно?" during grants: not in the
            # standard's list (the model hears "свидетельство" as the grant's
            # certificate): said so, with the whole list.
            return self._with(parsed, self._not_listed(turn, context))
        # "Isn't the order repealed?", "does it still apply?": the model
        # cannot place them said in passing; they ask for the legal basis.
        if (not confident and _REPEAL_RE.search(parsed.normalized)) or (
            conv.last_intent == "ask_legal_basis"
            and intent not in KNOWLEDGE_INTENTS
            and _STANDS_RE.search(parsed.normalized)
        ):
            intent, confident = "ask_legal_basis", True
            turn.settled_intent = intent
        same = self._same_for_service(turn, parsed, intent, service)
        if same is not None:
            conv.misses = 0
            return self._with(parsed, self._answer_unit(turn, same, service))

        # A follow-up that only changes the service or channel of the last question.
        # ("туда" names no office anew: not a follow-up by itself.)
        followup = bool(
            conv.last_intent
            and (service or (channel and turn.there is None))
            and self._is_followup(parsed, confident)
        )
        if followup and self._leans_elsewhere(parsed, confident, conv.last_intent):
            # "ХҚО-да тапсырсам, ал мерзімі ше?" after ЦОН's hours: the model,
            # unsure, leans to another topic and the words say more than a
            # name; when they plainly name one of its units, that is asked.
            unit = self._choose_unit(turn, parsed, parsed.intent, False, service, channel)
            if unit is not None and conv.last_intent not in unit.intents:
                conv.misses = 0
                return self._with(parsed, self._answer_unit(turn, unit, service))
        if followup:
            intent = conv.last_intent or intent
            confident = True
            unit = self._followup_unit(turn, parsed, service, channel)
            if unit is not None:
                conv.misses = 0
                return self._with(parsed, self._answer_unit(turn, unit, service))
        # An answer to "which service?" typed instead of pressed.
        if conv.pending_intent and service and (not confident or intent not in KNOWLEDGE_INTENTS):
            intent, confident = conv.pending_intent, True
            conv.pending_intent = None
            followup = True

        if service and not followup and self._only_names(parsed):
            # "дубликат", "грант", "соцподдержка": which of its topics?
            conv.last_service = service
            conv.misses = 0
            topics = self._service_topics(lang, service, "service-what")
            return self._with(parsed, Outcome([topics], lang, None))
        if (
            confident
            and intent in REQUEST_INTENTS
            and intent != "request_operator"
            and _HOW_RE.search(parsed.normalized)
            and not parsed.entity("application_number")
            and turn.settled_intent != intent  # "осы чат арқылы жіберуге бола ма"
        ):
            # "как узнать статус?", "можно записаться через егов?": the
            # standard's answer, when one of its units is plainly asked for.
            unit = self._choose_unit(turn, parsed, intent, False, service, channel, floor=True)
            if unit is not None:
                conv.misses = 0
                return self._with(parsed, self._answer_unit(turn, unit, service))
        if (
            confident
            and service is not None
            and intent in KNOWLEDGE_INTENTS
            and service not in self.kb.services_for(intent)
        ):
            # "успею сдать документы на дубликат в ЦОН после работы?" read as
            # the grant's application period: the service named has no such
            # answer, so the words choose among that service's own units.
            unit = self._choose_unit(turn, parsed, intent, False, service, channel, floor=True)
            if unit is not None:
                conv.misses = 0
                return self._with(parsed, self._answer_unit(turn, unit, service))
        if turn.said != (turn.event.text or "") and intent in BURST_TRIGGERS:
            # The end of a burst that the model reads as "help": the words decide.
            confident = False
        if (
            intent in ("greet", "thank", "help", "goodbye")
            and len(parsed.normalized.split()) >= LONG_WORDS
        ):
            # A long message is never only a greeting or a goodbye ("слышала,
            # еще согласие какое-то подписывают, это что"): a story with a
            # question the model could not place. The words decide, or we ask.
            confident = False
        if (
            intent == "out_of_scope"
            and conv.last_intent in KNOWLEDGE_INTENTS
            and len(parsed.normalized.split()) <= SHORT_FOLLOWUP_WORDS
        ):
            # "аттестат ше?", "неке куәлігін апару керек пе?" after the list of
            # documents: outside the model's topics alone, not after the
            # answer it follows. The words decide, or we ask.
            confident = False
        if intent == "out_of_scope" and service is not None:
            # "грантқа аттестат керек пе?": a question about one of our services
            # is not outside them; the likeliest of its topics answers it, if
            # the model gives it a chance at all ("телнұсқа куәлік жүргізуші":
            # a driving licence, none).
            topic = next(
                (
                    str(r["name"])
                    for r in parsed.ranking[:RUNNER_UP_TOPICS]
                    if r["name"] in KNOWLEDGE_INTENTS
                    and float(r["confidence"]) >= IN_SCOPE_RUNNER_UP
                    and service in self.kb.services_for(str(r["name"]))
                ),
                None,
            )
            if topic is not None:
                intent = topic
            else:
                # "грантқа аттестат керек па": the words decide, or we ask.
                confident = False
        if (
            confident
            and not followup
            and intent in REQUEST_INTENTS
            and intent != "request_operator"
            and turn.settled_intent != intent
            and (
                parsed.confidence < ACTION_SURE
                or (parsed.confidence < ASKED_ACTION_SURE and _asks(parsed))
            )
            and not self._claimed(intent, parsed.text)
        ):
            # "порталдан бердім, қолхат берілмеді, қалай бақылаймын?" read as
            # "check my status" at 0.7: a question the standard answers, when
            # its words name one of its units plainly; else the action.
            unit = self._choose_unit(turn, parsed, intent, False, service, channel)
            if unit is not None:
                conv.misses = 0
                return self._with(parsed, self._answer_unit(turn, unit, service))
            if intent == "submit_application" and (
                _HOW_RE.search(parsed.normalized) or _WHERE_RE.search(parsed.normalized)
            ):
                # "дипломның телнұсқасын қалай аламын?" half-read as "I want to
                # apply": how one gets the service is where and how to apply,
                # not a form that asks for the citizen's personal data.
                intent = ACTION_TOPICS[intent]
                turn.settled_intent = intent
        if not followup and (not confident or intent in KNOWLEDGE_INTENTS):
            unit = self._choose_unit(turn, parsed, intent, confident, service, channel)
            if unit is not None:
                conv.misses = 0
                return self._with(parsed, self._answer_unit(turn, unit, service))

        if service and not followup and (not confident or intent in ("greet", "help")):
            # "по гранту вопрос": the service is the topic from now on; what
            # about it? (the next "приемная до скольки?" is about grants).
            conv.last_service = service
            conv.misses = 0
            topics = self._service_topics(lang, service, "service-what")
            return self._with(parsed, Outcome([topics], lang, intent))
        if not confident:
            return self._with(parsed, self._not_understood(turn))
        conv.misses = 0
        if intent == "switch_language":
            target = self._language_named(parsed.text, lang)
            if target is None:
                # "можно устно или обязательно писать?" names no language: not
                # a request to switch.
                return self._with(parsed, self._not_understood(turn))
            return self._with(parsed, await self.set_language(turn.event.user_id, target))
        flow = self._flow_by_intent.get(intent)
        if flow is not None:
            if service:
                # "дипломның телнұсқасына өтініш бергім келеді": a question
                # typed during the form is about that service.
                conv.last_service = service
            return self._with(parsed, await flow.on_intent(self.context(turn), intent))
        return self._with(parsed, self._route(turn, intent, service, channel))

    # -- answer units ----------------------------------------------------------
    def _choose_unit(
        self,
        turn: Turn,
        parsed: ParseResult,
        intent: str,
        confident: bool,
        service: str | None,
        channel: str | None,
        *,
        floor: bool = False,
    ) -> Entry | None:
        """The detail unit the message asks for, or (without a confident
        intent) any unit it is plainly about; None: the general answer.
        `floor`: any unit at least DETAIL_MIN_SIMILARITY close will do."""
        unit = self._pick_unit(turn, parsed, intent, confident, service, channel, floor=floor)
        if unit is not None and unit.id in PICKUP_VARIANTS and self._collecting(turn, parsed):
            unit = self._unit(PICKUP_VARIANTS[unit.id]) or unit
        office = turn.conv.last_channel
        if unit is None or office is None or office in unit.channels:
            return unit
        if channel is not None or parsed.values("channel"):
            return unit
        if not unit.channels:
            # A fact of the offices, asked while at the portal ("а копия
            # удостоверения тогда не нужна?" after the portal's list): the
            # portal's own answer.
            return self._unit(OFFICE_VARIANTS.get((unit.id, office), "")) or unit
        # No office named, and the conversation is at another one than the
        # unit's: the same fact of that office ("бумагу какую-то дадут, что
        # приняли?" after the university office's list of documents: the
        # university's receipt, not ЦОН's).
        family = _family(unit.id)
        return next(
            (
                e
                for e in self.kb.entries
                if e.detail
                and _family(e.id) == family
                and office in e.channels
                and set(e.intents) == set(unit.intents)
                and set(e.services) == set(unit.services)
            ),
            unit,
        )

    def _pick_unit(
        self,
        turn: Turn,
        parsed: ParseResult,
        intent: str,
        confident: bool,
        service: str | None,
        channel: str | None,
        *,
        floor: bool = False,
    ) -> Entry | None:
        conv = turn.conv
        scores = {str(r["name"]): float(r["confidence"]) for r in parsed.ranking}
        if conv.last_intent in KNOWLEDGE_INTENTS:
            scores[conv.last_intent] = max(scores.get(conv.last_intent, 0.0), CONTEXT_TOPIC_PRIOR)
        # Every channel named counts: "ЖОО дайын телнұсқаны ХҚО-ға қашан
        # жібереді" names the university and ЦОН, and asks of the latter.
        channels = parsed.values("channel")
        if channel is not None:
            channels.add(channel)
        said = fold(turn.said) if turn.said else parsed.normalized
        # "в цон можно без нее?" just after that unit: its words need not be said again.
        short = len(said.split()) <= FAMILY_WORDS
        within = service
        if within is None and "psc" in channels and conv.last_service in (None, PSC_SERVICE):
            # "забрать можно в вузе или только в ЦОНе?"
            within = PSC_SERVICE
        candidates = [
            e
            for e in self.kb.entries
            if e.ask
            and (within is None or within in e.services)
            and (not channels or not e.channels or channels & set(e.channels))
            and any(i in KNOWLEDGE_INTENTS or i == "check_status" for i in e.intents)
            and (turn.settled_intent is None or turn.settled_intent in e.intents)
            and (not e.needs or _names_any(e.needs, said) or (short and conv.last_unit == e.id))
        ]
        if not candidates:
            return None
        ranked = self.ranker.rank(
            turn.said or parsed.text, scores, candidates, focus=turn.question or None
        )
        # The conversation's service counts ("а фото нужно?" after grants),
        # and after an answer, a short message's topic is most likely that
        # answer's ("кімнің атына жазамын" after a complaint: the complaint's
        # addressee, not the application's).
        family = _family(conv.last_unit)
        if len(parsed.normalized.split()) > FAMILY_WORDS:
            family = None
        # "ол үшін қайда звонить керек?" after a home visit: "for that" points
        # back at the fact just answered.
        kin_bonus = FAMILY_BONUS * (2 if _BACK_RE.search(parsed.normalized) else 1)
        if (service is None and conv.last_service) or family:
            ranked.sort(
                key=lambda r: (
                    r.score
                    + (
                        CONTEXT_SERVICE_BONUS
                        if service is None and conv.last_service in r.entry.services
                        else 0.0
                    )
                    + (kin_bonus if family and _family(r.entry.id) == family else 0.0)
                ),
                reverse=True,
            )
        best = ranked[0]
        if floor:
            return best.entry if best.lexical >= DETAIL_MIN_SIMILARITY else None
        own = service or conv.last_service
        # Not which service: "қандай құжаттар керек?" is asked of the citizen.
        certain = classifier_certain(ranked, own) if own is not None else None
        if certain is not None:
            return certain
        if (
            confident
            and family
            and not best.entry.detail
            and _family(best.entry.id) == family
            and intent not in best.entry.intents
        ):
            # A short follow-up whose words keep to the answer just given,
            # though the model reads another topic in one of them ("а забрать
            # она сможет?" after "may my mother apply for me?": the
            # representative, not where a duplicate is collected).
            rival = max(
                (
                    r.score
                    for r in ranked
                    if intent in r.entry.intents
                    and set(r.entry.services) & set(best.entry.services)
                ),
                default=0.0,
            )
            if best.score >= rival + RESCUE_CLEAR_MARGIN:
                return best.entry
        if best.entry.detail:
            # Against the general answer of its own topic and, when the model
            # is sure of another one, of that topic too ("мен диплом потерял,
            # что делать?" is where to apply, not what the result looks like).
            topics = set(best.entry.intents) | ({intent} if confident else set())
            own = service or conv.last_service
            if own not in best.entry.services:
                own = None
            general = max(
                (
                    r.similarity
                    for r in ranked
                    if not r.entry.detail
                    and set(r.entry.intents) & topics
                    and set(r.entry.services) & set(best.entry.services)
                    # the conversation's service: not social support's term
                    # against a grant complaint's ("сколько дней рассматривают?")
                    and (own is None or own in r.entry.services)
                ),
                default=0.0,
            )
            # A short follow-up on the fact just answered ("а сколько дней
            # её рассматривают?" after a grant complaint): that fact's
            # sibling needs fewer words of its own.
            kin = kin_bonus if family and _family(best.entry.id) == family else 0.0
            close = best.lexical >= DETAIL_MIN_SIMILARITY or (
                best.lexical >= LEARNED_MIN_SIMILARITY
                and (
                    learned_sure(best, ranked)
                    or kin > 0.0
                    or best.similarity >= general + DETAIL_CLEAR_MARGIN
                )
            )
            margin = DETAIL_MARGIN
            if (
                parsed.confidence >= SURE_OF_TOPIC
                and intent not in best.entry.intents
                and conv.last_intent not in best.entry.intents  # "қанша күнде қарайды?"
            ):
                # The model is all but certain of another topic ("я потеряла
                # диплом, что мне делать?" is where to apply; a story's words
                # also fit "no EDS needed at ЦОН"): the words must say more.
                margin = OTHER_TOPIC_MARGIN
            if confident and close and best.similarity + kin >= general + margin:
                return best.entry
            if not confident and (
                best.lexical >= RESCUE_MIN_SIMILARITY
                or (best.lexical >= LEARNED_MIN_SIMILARITY and learned_sure(best, ranked))
                or _clear_ahead(best, ranked, own)
            ):
                return best.entry
            return None
        if not confident and best.lexical >= RESCUE_MIN_SIMILARITY:
            return best.entry
        if not confident and _clear_ahead(best, ranked, own):
            return best.entry
        if (
            confident
            and intent not in best.entry.intents
            and best.lexical >= LEARNED_MIN_SIMILARITY
            and best.learned == 0.0
            # the model's topic goes on with the conversation's ("а адреса
            # архивов есть?" after a closed university): plain words only
            and (intent != conv.last_intent or best.lexical >= WORDS_OVER_TOPIC_MIN)
        ):
            rival = max(
                (
                    r.similarity
                    for r in ranked
                    if intent in r.entry.intents
                    and set(r.entry.services) & set(best.entry.services)
                ),
                default=0.0,
            )
            # All but certain of its topic, the model yields to words only far
            # ahead ("грант ұтып алсам қандай құжат береді" read as the
            # documents to bring at 0.98).
            margin = (
                WORDS_OVER_SURE_MARGIN
                if parsed.confidence >= SURE_OF_TOPIC
                else WORDS_OVER_MODEL_MARGIN
            )
            if best.similarity >= rival + margin:
                return best.entry
        if (
            confident
            and service is None
            and conv.last_service is None
            and intent in best.entry.intents
            and len(best.entry.services) == 1
        ):
            # Which service? The words may say it ("канцелярия", "086", "ЕНТ")
            # although no service was named: take it when the best answer of
            # another service is clearly further away.
            other = max(
                (
                    r.lexical + INTENT_WEIGHT * r.prior
                    for r in ranked
                    if intent in r.entry.intents
                    and not set(r.entry.services) & set(best.entry.services)
                ),
                default=0.0,
            )
            words = best.lexical + INTENT_WEIGHT * best.prior
            if words >= other + SERVICE_MARGIN and best.lexical >= 0.3:
                return best.entry
        return None

    def _followup_unit(
        self, turn: Turn, parsed: ParseResult, service: str | None, channel: str | None
    ) -> Entry | None:
        """ "ал ХҚО-да ше?" after a precise fact (no EDS needed? the receipt?):
        the same fact's sibling for the channel or service now named, read
        with the question it follows; None: the topic's general answer."""
        conv = turn.conv
        try:
            last = self.kb.get(conv.last_unit or "")
        except KeyError:
            return None
        if service is not None and service not in last.services:
            # "а на соцподдержку тоже это?" after the grant documents of
            # orphans: the same fact of the service now named, when it has one.
            same = self._parallel(last.id, service)
            if same is not None and (
                channel is None or not same.channels or channel in same.channels
            ):
                return same
        if channel is not None and channel in SAME_FACT_OFFICES.get(last.id, ()):
            # "а в вуз можно без нее?" after "no EDS is needed at the
            # university or ЦОН": the same fact holds for the office named.
            return last
        if not last.detail:
            # After a general answer, only a channel the standard sets nothing
            # apart for: "ал ХҚО-да ше?" after where to apply for a grant is
            # its "no ЦОН for this service" unit, not the same answer again.
            own = service or (last.services[0] if len(last.services) == 1 else conv.last_service)
            if channel is None or own is None:
                return None
            if any(channel in self.kb.channels_for(i, own) for i in last.intents):
                return None
        before = [text for who, text in conv.recent if who == "c"][-1:]
        candidates = [
            e
            for e in self.kb.entries
            if e.ask
            and e.id != last.id
            and set(e.intents) & set(last.intents)
            and (service is None or service in e.services)
            and (channel is None or not e.channels or channel in e.channels)
            and (service is not None or set(e.services) & set(last.services))
        ]
        if not candidates:
            return None
        # The topic is the last question's: "а для дубликата?" after "is an
        # EDS needed for the grant's portal?" is read as the EDS, whatever
        # the model makes of three words.
        scores = {i: 1.0 for i in last.intents}
        said = " ".join([*before, parsed.text])
        best = self.ranker.rank(said, scores, candidates, focus=parsed.text)[0]
        if best.entry.detail and best.lexical >= FOLLOWUP_MIN_SIMILARITY:
            return best.entry
        return None

    def _topic_of_service(self, turn: Turn, intent: str) -> str | None:
        """A short message whose topic the conversation's service does not have
        ("а по срокам?" read as the application period, after duplicates):
        the runner-up topic that service has; None: the topic stands."""
        last, parsed = turn.conv.last_service, turn.parsed
        if (
            parsed is None
            or parsed.intent != intent
            or parsed.entity("service")
            or last is None
            or intent not in KNOWLEDGE_INTENTS
            or last in self.kb.services_for(intent)
            or len(parsed.normalized.split()) > FAMILY_WORDS
        ):
            return None
        for r in parsed.ranking[1:RUNNER_UP_TOPICS]:
            name = str(r["name"])
            if name in KNOWLEDGE_INTENTS and last in self.kb.services_for(name):
                return name
        return None

    def _same_for_service(
        self,
        turn: Turn,
        parsed: ParseResult,
        intent: str,
        service: str | None,
    ) -> Entry | None:
        """ "а на соцподдержку тоже это?", "грантқа да сол құжаттар ма?" after
        a fact of another service: the same fact of the service now named."""
        if service is None or not _SAME_RE.search(parsed.normalized):
            return None
        try:
            last = self.kb.get(turn.conv.last_unit or "")
        except KeyError:
            return None
        if service in last.services:
            return None
        words = len(parsed.normalized.split())
        if words > SAME_FACT_WORDS or (
            # "грантқа да тапсыру мерзімі қандай?": another question, plainly.
            parsed.confidence >= SURE_OF_TOPIC
            and intent not in last.intents
            and words > FAMILY_WORDS
        ):
            return None
        same = self._parallel(last.id, service)
        if same is not None and words > FAMILY_WORDS:
            # "заключение ВКК у меня тоже есть, на грант его прикладывать?"
            # after social support's documents: "тоже" is the citizen's, the
            # question names a fact of its own (the ВКК), not the same list.
            own = self._choose_unit(turn, parsed, intent, True, service, None)
            if (
                own is not None
                and own.detail
                and own.id != same.id
                and _family(own.id) == _family(same.id)
            ):
                return None
        return same

    def _parallel(self, unit_id: str, service: str) -> Entry | None:
        """The same fact for another service: social_support.documents.orphans
        for grant.documents.orphans; None when that service has no unit of
        its own for it."""
        head, _, rest = unit_id.partition(".")
        if head == service or not rest:
            return None
        try:
            entry = self.kb.get(f"{service}.{rest}")
        except KeyError:
            return None
        return entry if service in entry.services else None

    def _not_listed(self, turn: Turn, service: str) -> Outcome:
        """A document the standard does not list: so it says, and the list."""
        outcome = self._answer(turn, "ask_documents", service, None)
        if outcome.units and outcome.replies:
            first = outcome.replies[0]
            first.text = self.t(turn.lang, "doc-not-listed") + "\n" + first.text
        return outcome

    def _answer_unit(self, turn: Turn, entry: Entry, named_service: str | None) -> Outcome:
        """One unit of the standard, the answer leading with it."""
        lang, conv = turn.lang, turn.conv
        own = named_service or conv.last_service
        family = _family(entry.id)
        if entry.detail and own in entry.services and family and not family.startswith(f"{own}."):
            # "канша уакытта карайды" during social support: the grant's
            # "until 15 August" holds for it too, but social support's own
            # answer says what its standard sets and does not.
            general = self._parallel(family, own)
            if general is not None and general.is_general:
                entry = general
        if not entry.detail:
            # A general entry the words pointed to: the usual answer for its topic.
            service = named_service or (entry.services[0] if len(entry.services) == 1 else None)
            if service is None and conv.last_service in entry.services:
                service = conv.last_service
            channel = entry.channels[0] if len(entry.channels) == 1 else None
            if not entry.channels:
                channel = turn.there
            elif channel is None:
                # An entry for several channels ("addresses of the university
                # and of ЦОН are not in the order"): for the one named, if any.
                named = turn.parsed.entity("channel") if turn.parsed else None
                channel = named if named in entry.channels else entry.channels[0]
            return self._answer(turn, entry.intents[0], service, channel)
        service = named_service if named_service in entry.services else None
        if service is None:
            service = (
                conv.last_service if conv.last_service in entry.services else entry.services[0]
            )
        conv.last_intent = entry.intents[0]
        moved = service != conv.last_service
        conv.last_service = service
        offices = turn.parsed.values("channel") if turn.parsed else set()
        if entry.id in UNIT_OFFICE:
            # "Yes, you can apply at ЦОН": the conversation is at ЦОН now.
            conv.last_channel = UNIT_OFFICE[entry.id]
        elif entry.channels or moved:
            conv.last_channel = entry.channels[0] if len(entry.channels) == 1 else None
        elif offices:
            # "жексенбі күні ХҚО ашық па": the conversation is at the office named.
            conv.last_channel = next(iter(offices)) if len(offices) == 1 else None
        # else: a fact of no office ("жеке куәліктің түпнұсқасы керек пе" after
        # the university office's list) leaves the conversation at its office.
        conv.pending_intent = None
        conv.last_unit = entry.id
        text = self._render([entry], lang)
        extra = self._calendar_lines(
            turn, entry.intents[0], service, conv.last_channel, entry.states
        )
        if extra:
            # "ЦОН в воскресенье работает?": and whether it is open now, when it opens.
            text += "\n\n" + extra
        rows = [[Button(self.t(lang, "btn-full-cite"), f"cite:{entry.id}")]]
        topic = entry.intents[0]
        if topic in KNOWLEDGE_INTENTS:
            rows.append([Button(self.t(lang, f"topic-{topic}"), f"ask:{topic}:{service or ''}")])
        rows.append(
            [Button(self.t(lang, "btn-operator"), "op"), Button(self.t(lang, "btn-menu"), "menu")]
        )
        outcome = Outcome([Reply(text, rows)], lang, topic)
        outcome.units = [entry.id]
        return outcome

    async def _second_question(
        self, turn: Turn, text: str, parsed: ParseResult, outcome: Outcome
    ) -> None:
        """Two questions in one message ("where do I go and how long does it
        take?"): the second gets its own answer after the first (one more
        parse, only for such messages)."""
        _, questions = _question_clauses(text)
        if len(questions) < 2:
            return
        last = _completed(questions[-1], questions[-2])
        again = await self.nlu.parse(last)
        if last != questions[-1] and (
            not self._confident(again)
            or again.intent not in KNOWLEDGE_INTENTS
            or again.intent == outcome.intent
        ):
            # "куда обращаться и сколько это займет?": short, but it says what
            # it asks; the first question's words took it over.
            alone = await self.nlu.parse(questions[-1])
            if alone.confidence >= ALONE_SURE and alone.intent in KNOWLEDGE_INTENTS:
                again = alone
        if not self._confident(again) or again.intent not in KNOWLEDGE_INTENTS:
            return
        if again.intent == outcome.intent:
            return
        saved = (
            turn.conv.last_intent,
            turn.conv.last_service,
            turn.conv.last_channel,
            turn.conv.last_unit,
        )
        service = again.entity("service") or turn.conv.last_service
        sub_turn = Turn(turn.event, turn.conv, turn.lang, again)
        unit = self._choose_unit(sub_turn, again, again.intent, True, service, None)
        extra = (
            self._answer_unit(sub_turn, unit, service)
            if unit is not None
            else self._answer(sub_turn, again.intent, service, again.entity("channel"))
        )
        if not extra.units or set(extra.units) & set(outcome.units):
            (
                turn.conv.last_intent,
                turn.conv.last_service,
                turn.conv.last_channel,
                turn.conv.last_unit,
            ) = saved
            return
        first = extra.replies[0]
        first.text = self.t(turn.lang, "multi-answer-sep") + "\n" + first.text
        outcome.replies.extend(extra.replies)
        outcome.units.extend(extra.units)
        # A follow-up ("а через егов можно?") is about the first question.
        (
            turn.conv.last_intent,
            turn.conv.last_service,
            turn.conv.last_channel,
            turn.conv.last_unit,
        ) = saved

    def _note_repeal(self, turn: Turn, outcome: Outcome) -> None:
        """Once per conversation, after the first answer from the standard."""
        if turn.conv.noted_repeal or not outcome.units or not outcome.replies:
            return
        turn.conv.noted_repeal = True
        last = outcome.replies[-1]
        last.text += "\n\n" + self.t(turn.lang, "repealed-note")

    @staticmethod
    def _with(parsed: ParseResult, outcome: Outcome) -> Outcome:
        outcome.confidence = parsed.confidence
        outcome.degraded = parsed.degraded
        outcome.nlu_source = parsed.source
        if outcome.intent is None:
            outcome.intent = parsed.intent
        return outcome

    def _claimed(self, intent: str, text: str) -> bool:
        """The words are the request's own ("жазылуды ауыстырғым келеді" is
        moving a booking, whatever else "ауыстыру" may change): its flow says."""
        flow = self._flow_by_intent.get(intent)
        claims = getattr(flow, "claims", None)
        return bool(claims and claims(text, intent))

    @staticmethod
    def _only_names(parsed: ParseResult) -> bool:
        """The message names a service and says nothing else ("дубликат
        диплома", "грант")."""
        words = [w for w in parsed.normalized.split() if any(ch.isalpha() for ch in w)]
        return 0 < len(words) <= 3 and all(
            lexicon(w) or w in _FOLLOWUP_WORDS or w in _NAME_FILLERS for w in words
        )

    @staticmethod
    def _leans_elsewhere(parsed: ParseResult, confident: bool, last_intent: str | None) -> bool:
        """An unsure message whose likeliest topic is another of the
        standard's than the last one's, with two words or more besides a
        follow-up's markers and names."""
        top = parsed.ranking[0] if parsed.ranking else None
        if confident or top is None or _SAME_AS_BEFORE_RE.search(parsed.normalized):
            # "порталдан тапсырсақ та сол күндер ме?": the last topic, for the portal.
            return False
        return (
            top["name"] in KNOWLEDGE_INTENTS
            and top["name"] != last_intent
            and float(top["confidence"]) >= NEW_TOPIC_LEAN
            and len(_own_words(parsed)) >= 2
        )

    def _is_followup(self, parsed: ParseResult, confident: bool) -> bool:
        """Does this message only change the service or channel of the last
        question ("а через портал?", "ал грантқа ше?")?"""
        words = [w for w in parsed.normalized.split() if any(ch.isalpha() for ch in w)]
        if len(words) > 7:
            return False
        if confident and parsed.intent in REQUEST_INTENTS:
            # "хочу записаться в ЦОН" after "сколько делается дубликат?": a new request.
            return False
        if not confident or parsed.intent not in KNOWLEDGE_INTENTS:
            return True
        if _SAME_AS_BEFORE_RE.search(parsed.normalized):
            # "порталдан тапсырсақ та сол күндер ме?" names the fact just answered.
            return True
        # A confident new question ("а сколько дней делается дубликат?") is
        # not a follow-up: it says more than a marker and a name.
        return bool(_FOLLOWUP_RE.search(parsed.normalized)) and len(_own_words(parsed)) <= 1

    @staticmethod
    def _language_named(text: str, current: str) -> str | None:
        """The language a switch asks for; None when the message speaks of
        no language at all (the model's switch_language was a guess)."""
        f = fold(text)
        if _RUSSIAN_NAMED_RE.search(f):
            return "ru"
        if _KAZAKH_NAMED_RE.search(f):
            return "kk"
        if _LANGUAGE_WORD_RE.search(f):
            # "другой язык", "тилди ауыстыр": the other one.
            return "ru" if current == "kk" else "kk"
        return None

    # -- routing --------------------------------------------------------------
    def _route(self, turn: Turn, intent: str, service: str | None, channel: str | None) -> Outcome:
        lang, conv = turn.lang, turn.conv
        t = self.t
        if intent == "greet":
            return Outcome([Reply(t(lang, "greet"), self.menu(lang).buttons)], lang, intent)
        if intent == "goodbye":
            return Outcome([Reply(t(lang, "goodbye"))], lang, intent)
        if intent == "thank":
            return Outcome([Reply(t(lang, "thank"))], lang, intent)
        if intent == "help":
            return Outcome([Reply(t(lang, "help")), self.menu(lang)], lang, intent)
        if intent == "affirm":
            return Outcome([Reply(t(lang, "affirm-noctx"), self.menu(lang).buttons)], lang, intent)
        if intent == "deny":
            return Outcome([Reply(t(lang, "deny-noctx"))], lang, intent)
        if intent == "out_of_scope":
            return Outcome([Reply(t(lang, "out-of-scope"), self.menu(lang).buttons)], lang, intent)
        if intent == "request_operator":
            return self._operator(turn)
        if intent in ACTION_INTENTS:
            outcome = self._answer(turn, ACTION_TOPICS[intent], service, channel)
            outcome.replies[0].text = (
                t(lang, ACTION_INTENTS[intent]) + "\n" + outcome.replies[0].text
            )
            outcome.intent = intent
            return outcome
        if intent in KNOWLEDGE_INTENTS:
            return self._answer(turn, intent, service, channel)
        conv.last_intent = None
        return Outcome([self.menu(lang)], lang, intent)

    def _when_detail(self, turn: Turn, entries: list[Entry], service: str | None) -> Entry | None:
        """The topic's `when` detail, for a general answer to a question that asks when."""
        if not entries or not entries[0].is_general or turn.parsed is None:
            return None
        if not _WHEN_RE.search(turn.parsed.normalized):
            return None
        family = _family(entries[0].id)
        return next(
            (
                e
                for e in self.kb.entries
                if e.when
                and _family(e.id) == family
                and (service is None or service in e.services)
                and set(e.intents) & set(entries[0].intents)
            ),
            None,
        )

    def _operator(self, turn: Turn) -> Outcome:
        lang = turn.lang
        return Outcome(
            [Reply(self.t(lang, "operator-info"), [[Button(self.t(lang, "btn-menu"), "menu")]])],
            lang,
            "request_operator",
        )

    # -- knowledge answers ----------------------------------------------------
    def _answer(self, turn: Turn, intent: str, service: str | None, channel: str | None) -> Outcome:
        lang, conv = turn.lang, turn.conv
        services = self.kb.services_for(intent)
        if service is None and channel is not None:
            # ЦОН serves duplicates only: a channel can settle the service.
            # (Every service has a university: "ЖОО қабылдау комиссиясының
            # телефоны" after grants is the grant's, though only the
            # duplicate's contacts answer names the university.)
            by_channel = {
                s
                for s in services
                if channel in self.kb.channels_for(intent, s)
                or (s == conv.last_service and channel in self.kb.service_channels(s))
            }
            if conv.last_service in by_channel:
                service = conv.last_service
            elif len(by_channel) == 1:
                service = next(iter(by_channel))
        if service is None and conv.last_service in services:
            service = conv.last_service
        if service is None and channel == "psc" and PSC_SERVICE in services:
            # "хқо-ға тапсырғаныма 40 күн болды, кімге шағым жазамын": not
            # the grant's complaint too.
            service = PSC_SERVICE
        if service is None and (kept := self._topic_of_service(turn, intent)) is not None:
            # "а по срокам?" after duplicates, read as the grant's application
            # period: duplicates have no such period; their term is what is asked.
            return self._answer(turn, kept, conv.last_service, channel)
        if service is not None and service not in services and services:
            # The question does not apply to that service: answer for the ones it does.
            service = None
        if service is None and len(services) > 1 and intent in ANSWER_ALL_SERVICES:
            entries = self.kb.find(intent, None, channel)
            conv.last_intent, conv.last_channel, conv.pending_intent = intent, channel, None
            outcome = Outcome(
                [
                    Reply(
                        self._render(entries, lang),
                        self._answer_buttons(lang, intent, None, channel),
                    )
                ],
                lang,
                intent,
            )
            outcome.units = [e.id for e in entries]
            return outcome
        if service is None and len(services) > 1:
            if {"grant", "social_support"} >= services or self._same_entry(intent, services):
                service = sorted(services)[0]
            elif (both := self._each_service(turn, intent, services, channel)) is not None:
                return both
            else:
                conv.pending_intent = intent
                conv.last_intent = intent
                return Outcome([self._ask_service(lang, services)], lang, intent)
        if service is None and services:
            service = next(iter(services))
        entries = []
        if (
            channel is None
            and conv.last_channel == "portal"
            and service is not None
            and service == conv.last_service
            and turn.parsed is not None
            and len(turn.parsed.normalized.split()) <= FAMILY_WORDS
        ):
            # "через egov можно?" then "а забирать где?", "а что загружать?":
            # the portal's own answer, where there is one (paper, at the
            # university or ЦОН). The portal only: a route that changes what
            # comes after; after ЦОН, "where do I call?" is not ЦОН's address
            # (eval: all channels +6 -4, the portal's +6 -1).
            sticky = self.kb.find(intent, service, conv.last_channel)
            if sticky and all(conv.last_channel in e.channels for e in sticky):
                channel, entries = conv.last_channel, sticky
        if (
            not entries
            and channel is None
            and intent == "ask_schedule"
            and conv.last_intent == intent
            and conv.named_channel is not None
            and turn.parsed is not None
            and len(turn.parsed.normalized.split()) <= FAMILY_WORDS
            and not _IN_GENERAL_RE.search(turn.parsed.normalized)
        ):
            # "ЦОН в субботу работает?" then "а до скольки": ЦОН's hours; not
            # "жалпы жұмыс кестесін толық айтыңызшы" (the whole schedule).
            named = self.kb.find(intent, service, conv.named_channel)
            if named and all(conv.named_channel in e.channels for e in named):
                channel, entries = conv.named_channel, named
        if not entries:
            entries = self.kb.find(intent, service, channel)
        when = self._when_detail(turn, entries, service)
        if when is not None:
            # "когда прием заявлений на грант?": 23-31 July, not the whole
            # period's answer (what may be changed until when, and how).
            return self._answer_unit(turn, when, service)
        own = self._parallel(entries[0].id, service) if entries and service else None
        if own is not None and own.detail:
            # "куда с этим обращаться" after social support: the grant's
            # answer holds for it too, but social support has its own words.
            return self._answer_unit(turn, own, service)
        if not entries:
            return Outcome(
                [Reply(self.t(lang, "out-of-scope"), self.menu(lang).buttons)], lang, intent
            )
        conv.last_intent = intent
        conv.last_service = service
        conv.last_channel = channel
        conv.pending_intent = None
        conv.last_unit = entries[0].id
        text = self._render(entries, lang)
        extra = self._calendar_lines(
            turn, intent, service, channel, frozenset().union(*(e.states for e in entries))
        )
        if extra:
            text += "\n\n" + extra
        outcome = Outcome(
            [Reply(text, self._answer_buttons(lang, intent, service, channel))], lang, intent
        )
        outcome.units = [e.id for e in entries]
        return outcome

    def _each_service(
        self, turn: Turn, intent: str, services: set[str], channel: str | None
    ) -> Outcome | None:
        """No service named and the answers differ, but each is short: give
        each under its service's name (the likelier one first) rather than
        ask "which service?" first. None when together they would not fit a
        phone screen."""
        lang, conv = turn.lang, turn.conv
        found: dict[str, list[Entry]] = {}
        for name in services:
            entries = self.kb.find(intent, name, channel)
            if entries:
                found.setdefault(
                    "grant" if name == "social_support" and "grant" in services else name, entries
                )
        if len(found) < 2:
            return None
        size = sum(len(e.text[lang]) for entries in found.values() for e in entries)
        if size > EACH_SERVICE_MAX_CHARS:
            return None
        sims = self.ranker.similarities(turn.parsed.text) if turn.parsed else {}
        order = sorted(
            found,
            key=lambda name: -max((sims.get(e.id, 0.0) for e in found[name]), default=0.0),
        )
        parts = [
            self.t(lang, f"service-{name}").capitalize()
            + ":\n"
            + self._render(found[name], lang, staff=False)
            for name in order
        ]
        if any(e.offers_staff for entries in found.values() for e in entries):
            parts.append(self.t(lang, "ask-staff"))
        conv.last_intent, conv.last_channel, conv.pending_intent = intent, channel, None
        conv.last_service = None
        buttons = [
            [
                Button(self.t(lang, BUTTON_OF_SERVICE[name]), f"ask:{intent}:{name}")
                for name in order
            ]
        ]
        buttons.append(
            [Button(self.t(lang, "btn-operator"), "op"), Button(self.t(lang, "btn-menu"), "menu")]
        )
        outcome = Outcome([Reply("\n\n".join(parts), buttons)], lang, intent)
        outcome.units = [e.id for name in order for e in found[name]]
        return outcome

    def _same_entry(self, intent: str, services: set[str]) -> bool:
        ids = {tuple(e.id for e in self.kb.find(intent, s)) for s in services}
        return len(ids) == 1

    def _render(self, entries: list[Entry], lang: str, *, staff: bool = True) -> str:
        """The entries' texts (each text once) and a short citation line; the
        full reference is one tap away (the `cite:` button). Where the order is
        silent on part of it, the answer points at the operator button below
        it (`staff=False`: the caller adds that line once for several parts)."""
        parts: list[str] = []
        cites: list[str] = []
        for e in entries:
            body = e.text[lang].strip()
            if body not in parts:
                parts.append(body)
            if e.citation is not None:
                c = e.citation.short(lang, self.kb)
                if c not in cites:
                    cites.append(c)
        text = "\n\n".join(parts)
        if staff and any(e.offers_staff for e in entries):
            text += "\n" + self.t(lang, "ask-staff")
        if cites:
            text += "\n\n" + self.t(lang, "cite-short", cite="; ".join(cites))
        return text

    def _full_citation(self, lang: str, entry_id: str) -> Outcome:
        try:
            entry = self.kb.get(entry_id)
        except KeyError:
            entry = None
        if entry is None or entry.citation is None:
            return Outcome([Reply(self.t(lang, "stale-button")), self.menu(lang)], lang, None)
        full = entry.citation.render(lang, self.kb)
        status = self.kb.act.status[lang].strip()
        return Outcome(
            [
                Reply(
                    self.t(lang, "full-cite", cite=full) + "\n" + status,
                    [[Button(self.t(lang, "btn-menu"), "menu")]],
                )
            ],
            lang,
            "cite",
        )

    def _ask_service(self, lang: str, services: set[str]) -> Reply:
        keys = {"duplicate": "btn-duplicate", "grant": "btn-grant", "social_support": "btn-social"}
        return Reply(
            self.t(lang, "ask-service"),
            [[Button(self.t(lang, keys[s]), f"svc:{s}")] for s in SERVICES if s in services],
        )

    def _service_topics(self, lang: str, service: str, ask: str = "also-ask") -> Reply:
        topics = [
            "ask_documents",
            "ask_where_to_apply",
            "ask_processing_time",
            "ask_schedule",
            "ask_result",
            "ask_pickup" if service == "duplicate" else "ask_application_period",
        ]
        rows = [
            [
                Button(self.t(lang, f"topic-{a}"), f"ask:{a}:{service}"),
                Button(self.t(lang, f"topic-{b}"), f"ask:{b}:{service}"),
            ]
            for a, b in zip(topics[::2], topics[1::2], strict=True)
        ]
        rows.append([Button(self.t(lang, "btn-menu"), "menu")])
        return Reply(
            self.t(lang, f"service-{service}").capitalize() + ". " + self.t(lang, ask), rows
        )

    def _answer_buttons(
        self, lang: str, intent: str, service: str | None, channel: str | None
    ) -> list[list[Button]]:
        rows: list[list[Button]] = []
        if service:
            other = [
                c for c in CHANNELS if c in self.kb.channels_for(intent, service) and c != channel
            ]
            if other:
                rows.append([Button(self.t(lang, f"channel-{c}"), f"ch:{c}") for c in other])
        related = [
            i for i in ("ask_documents", "ask_processing_time", "ask_schedule") if i != intent
        ]
        rows.append([Button(self.t(lang, f"topic-{i}"), f"ask:{i}") for i in related[:2]])
        rows.append(
            [Button(self.t(lang, "btn-operator"), "op"), Button(self.t(lang, "btn-menu"), "menu")]
        )
        return rows

    # -- calendar lines -------------------------------------------------------
    def _calendar_lines(
        self,
        turn: Turn,
        intent: str,
        service: str | None,
        channel: str | None,
        stated: frozenset[str] = frozenset(),
    ) -> str:
        """Live lines under an answer (open now, worked deadlines); `stated`:
        the calendar notes the answer's own text already gives."""
        lang = turn.lang
        now = self.clock()
        text = turn.event.text or ""
        mentioned = find_date(text, now.date()) if text else None
        if intent == "ask_schedule" and service:
            return self._schedule_now(lang, service, channel, now)
        if intent == "ask_processing_time" and service == "duplicate":
            return self._due_lines(lang, channel, mentioned, now, stated)
        if intent in ("ask_application_period", "ask_processing_time") and service in (
            "grant",
            "social_support",
        ):
            return self._grant_phase(lang, now.date())
        if intent == "complaint" and mentioned:
            return self.t(
                lang,
                "complaint-due-line",
                date=_fmt(mentioned),
                provider=_fmt(self.calendar.complaint_due(mentioned, "provider")),
                quality=_fmt(self.calendar.complaint_due(mentioned, "quality")),
            )
        return ""

    def _schedule_now(self, lang: str, service: str, channel: str | None, now: datetime) -> str:
        channels = (
            [channel] if channel else [c for c in CHANNELS if (service, c) in _SCHEDULE_PLACES]
        )
        lines = []
        for ch in channels:
            place = _SCHEDULE_PLACES.get((service, ch))
            if place is None:
                continue
            if ch == "portal":
                if channel is None:
                    # Among the offices; asked of the portal alone, its
                    # answer already says this (no line repeating it).
                    lines.append(self.t(lang, "open-now-portal"))
                continue
            st = self.calendar.status_at(place, now, lang=lang)
            name = self.t(lang, f"channel-{ch}")
            if st.open and st.closes_at:
                lines.append(
                    self.t(lang, "open-now", place=name, until=st.closes_at.strftime("%H:%M"))
                )
            elif st.next_open:
                reason = self.t(lang, f"reason-{st.reason}", holiday=st.holiday or "")
                nxt = f"{_fmt(st.next_open.date())} {st.next_open.strftime('%H:%M')}"
                lines.append(self.t(lang, "closed-now", place=name, reason=reason, next=nxt))
        return "\n".join(lines)

    def _due_lines(
        self,
        lang: str,
        channel: str | None,
        mentioned: date | None,
        now: datetime,
        stated: frozenset[str] = frozenset(),
    ) -> str:
        at = now
        if mentioned and mentioned != now.date():
            at = datetime.combine(mentioned, datetime.min.time().replace(hour=10), now.tzinfo)
        lines = []
        notes: list[str] = []
        note_dates: dict[str, str] = {}
        for ch in [channel] if channel else ["psc", "provider"]:
            due = self.calendar.duplicate_due_date(ch, at)
            lines.append(
                self.t(
                    lang,
                    "due-line",
                    date=_fmt(at.date()),
                    channel=self.t(lang, f"channel-{ch}"),
                    accepted=_fmt(due.accepted),
                    due=_fmt(due.due),
                )
            )
            for key in due.note_keys:
                if key in stated:
                    continue  # the answer said it already
                note = {
                    "psc_acceptance_day_not_counted": "due-psc-note",
                    "moved_to_next_working_day": "due-moved-note",
                    "due_falls_on_non_working_day": "due-weekend-note",
                }.get(key)
                if note and note not in notes:
                    notes.append(note)
                    # The date the note is about: the day off the term ends on.
                    note_dates[note] = _fmt(due.due)
        return "\n".join(lines + [self.t(lang, n, date=note_dates[n]) for n in notes])

    def _grant_phase(self, lang: str, today: date) -> str:
        phase = self.calendar.grant_phase(today)
        start, end = self.calendar.grant_window(today.year)
        nstart, nend = self.calendar.grant_window(today.year + 1)
        return self.t(
            lang,
            f"grant-phase-{phase}",
            start=_fmt(start),
            end=_fmt(end),
            results=_fmt(self.calendar.grant_results_by(today.year)),
            next_start=_fmt(nstart),
            next_end=_fmt(nend),
            next_results=_fmt(self.calendar.grant_results_by(today.year + 1)),
        )

    # -- misunderstanding -----------------------------------------------------
    def _not_understood(self, turn: Turn) -> Outcome:
        lang, conv = turn.lang, turn.conv
        conv.misses += 1
        parsed = turn.parsed
        if conv.misses >= 2:
            # Twice not understood: ask before handing the conversation to a person.
            conv.misses = 0
            return Outcome(
                [
                    Reply(
                        self.t(lang, "ask-clarify-operator"),
                        [
                            [
                                Button(self.t(lang, "btn-yes-operator"), "op:" + NOT_UNDERSTOOD),
                                Button(self.t(lang, "btn-no-rephrase"), "menu"),
                            ]
                        ],
                    )
                ],
                lang,
                FALLBACK_INTENT,
            )
        suggestions: list[str] = []
        for r in parsed.ranking if parsed else []:
            name = r["name"]
            if (name in KNOWLEDGE_INTENTS or name in ACTION_INTENTS) and name not in suggestions:
                suggestions.append(name)
            if len(suggestions) == 3:
                break
        rows = [[Button(self.t(lang, f"topic-{s}"), f"ask:{s}")] for s in suggestions]
        rows.append(
            [Button(self.t(lang, "btn-operator"), "op"), Button(self.t(lang, "btn-menu"), "menu")]
        )
        return Outcome([Reply(self.t(lang, "not-understood"), rows)], lang, FALLBACK_INTENT)


def _stipend_of_grant(parsed: ParseResult, last_service: str | None) -> ParseResult:
    """ "stipendiya qansha bolady" after the grant's result, "стипендию
    грантникам дают?": the stipend is the grant's (its result includes the
    rector's stipend order), not social support's, unless the message names
    social support in other words."""
    services = parsed.values("service")
    if "social_support" not in services or not _STIPEND_RE.search(parsed.normalized):
        return parsed
    rest = {
        f.value for f in lexicon(_STIPEND_RE.sub(" ", parsed.normalized)) if f.entity == "service"
    }
    if "social_support" in rest:
        return parsed
    if services == {"social_support"} and last_service == "grant" and not rest:
        keep = [e for e in parsed.entities if e["entity"] != "service"]
    elif services == {"social_support", "grant"} and rest == {"grant"}:
        keep = [e for e in parsed.entities if e.get("value") != "social_support"]
    else:
        return parsed
    return replace(parsed, entities=keep)


def _inherit(focused: ParseResult, whole: ParseResult) -> ParseResult:
    """A parse of part of the message keeps the whole message's language and
    the service or channel it names ("диплом порвался ... куда обращаться?")."""
    focused.language, focused.language_confidence = whole.language, whole.language_confidence
    focused.mixed = whole.mixed
    names = {e["entity"] for e in focused.entities}
    kept = [e for e in whole.entities if e["entity"] in ("service", "channel")]
    focused.entities = focused.entities + [e for e in kept if e["entity"] not in names]
    return focused


def _asks_of_another_document(said: str, service: str | None) -> bool:
    """Of a message naming another document (_OTHER_DOCUMENT_RE): its
    duplicate, loss or replacement, with none of ours named (folded text).
    Without those words, only outside a conversation on a service: "туу
    туралы куәлік керек пе?" during a grant conversation asks what the grant
    needs."""
    if _OUR_DOCUMENT_RE.search(said):
        return False
    return service is None or _ANEW_RE.search(said) is not None


def _asks_if_document_is_needed(said: str) -> bool:
    """ "туу туралы куәлік керек пе?": whether a document is needed, in a few
    words, not which documents are (folded text)."""
    return (
        _NEEDED_RE.search(said) is not None
        and _WHICH_RE.search(said) is None
        and len(said.split()) <= NOT_LISTED_WORDS
    )


def _clear_ahead(best: Ranked, ranked: list[Ranked], own: str | None = None) -> bool:
    """A story the model cannot place ("баламыз ауылда турады, УБТ-дан 98
    балл жинады, грантқа құжатты қалай тапсырамыз"; "дубликат был готов еще
    в марте, я на вахте была ... он в цоне еще лежит?"): the words and the
    classifier agree on one answer, far ahead of the next. In a conversation
    about one service (`own`), the next is that service's ("ozim turaly ne
    zhazu kerek" while applying for a duplicate: a grant's education
    document is no rival)."""
    if own not in best.entry.services:
        own = None
    rivals = [
        r.similarity for r in ranked if r is not best and (own is None or own in r.entry.services)
    ]
    return (
        best.lexical >= LEARNED_MIN_SIMILARITY
        and best.learned == 0.0
        and bool(rivals)
        and best.similarity >= max(rivals) + RESCUE_CLEAR_MARGIN
    )


def _applies_here(said: str, intent: str) -> bool:
    """ "а можно через вас заявку отправить прямо тут?", "осы чат арқылы
    өтінішті жіберуге бола ма" (folded): an application sent through the bot
    itself; not one told as sent already."""
    if _ALREADY_APPLIED_RE.search(said):
        return False
    if _FORM_WORDS_RE.search(said) and (
        _PLEASE_APPLY_RE.search(said)
        or (_LET_ME_FILL_RE.search(said) and not _ASKING_HOW_RE.search(said))
    ):
        # "подайте за нее заявку на грант через портал", "өтінішті толтырып
        # жіберіңізші": asked of the bot, whatever way it is named.
        return True
    if not _VIA_BOT_RE.search(said):
        return False
    if intent != "submit_application" and not _FORM_WORDS_RE.search(said):
        return False
    return any(r.search(said) for r in (_SUBMIT_RE, _SENT_RE, _FILL_RE, _SIGN_OR_APPLY_RE))


def _booking_or_not(said: str) -> str | None:
    """What a message read as "book me" asks instead (folded): to see one's
    bookings ("менин жазылуларымды корсетиниз", "покажите мои записи"), or
    the timetable written out ("жалпы кестени жазып жибериниз", no word of a
    booking in it), or to cancel one ("ЦОН-ға жазылып едім, соны алып
    тастаңызшы"); None when it is a booking."""
    if _REMOVE_RE.search(said):
        return "cancel_booking"
    if _SHOW_RE.search(said) and _MY_BOOKINGS_RE.search(said):
        return "my_bookings"
    if _TIMETABLE_RE.search(said) and not _BOOKING_WORD_RE.search(said):
        return "ask_schedule"
    return None


def _at_pickup(conv: Conversation) -> bool:
    """The last answer was about collecting the ready duplicate: the
    citizen's own pickup, or someone collecting it for them."""
    return _family(conv.last_unit) == "duplicate.pickup" or conv.last_unit in COLLECTING_UNITS


def _family(unit_id: str | None) -> str | None:
    """ "duplicate.complaint" for duplicate.complaint.term and for itself."""
    if not unit_id:
        return None
    parts = unit_id.split(".")
    return ".".join(parts[:2]) if len(parts) >= 2 else None


def _told(turn: Turn, parsed: ParseResult) -> list[str]:
    """What the citizen told (folded): this message first, then their
    RECENT_TOLD messages before it, newest first ("собака диплом погрызла"
    before "дубликат дадут?")."""
    earlier = [text for who, text in turn.conv.recent if who == "c"][-RECENT_TOLD:]
    return [parsed.normalized + " " + fold(turn.event.text or "")] + [
        fold(text) for text in reversed(earlier)
    ]


def _own_words(parsed: ParseResult) -> list[str]:
    """The message's words besides a follow-up's markers ("а", "ше", "через")
    and the names of services and offices, of three letters or more."""
    words = [w for w in parsed.normalized.split() if any(ch.isalpha() for ch in w)]
    return [w for w in words if w not in _FOLLOWUP_WORDS and not lexicon(w) and len(w) > 2]


def _asks(parsed: ParseResult) -> bool:
    """A question mark, a Kazakh question particle at the end, or a question
    word first ("где подать заявление на дубликат", typed without "?")."""
    words = parsed.normalized.split()
    return (
        "?" in parsed.text
        or (bool(words) and words[-1] in _QUESTION_PARTICLES)
        or _ASKS_FIRST_RE.match(parsed.normalized) is not None
    )


# A question word first (folded), after "а"/"ал" at most.
_FACT_WORDS = (
    r"где|куда|когда|сколько|как|как(?:ие|ой|ая|ое|ую|ому|ом|им|их)|каида|каидан|калаи|кандаи"
)
_ASKS_FIRST_RE = re.compile(rf"(?:а |ал )?(?:по |на |в |во )?(?:{_FACT_WORDS}|каи|кашан|канша)\b")
# A word that asks for a fact (folded): where, when, how long, how, which.
_ASKS_WHAT_RE = re.compile(rf"\b(?:{_FACT_WORDS}|откуда|неше|кашан\w*|канша\w*)\b")
# Where one applies (folded): "где подать заявление" is asked of the standard.
_WHERE_RE = re.compile(r"\b(?:где|куда|каида|каидан)\b")


# Kazakh question particles; with "ал" and "шы" they mark a short message as
# Kazakh ("ал портал ше?"). "ли" asks in Russian.
_KAZAKH_QUESTION_PARTICLES = frozenset({"ма", "ме", "ба", "бе", "па", "пе", "ше"})
_KAZAKH_PARTICLES = _KAZAKH_QUESTION_PARTICLES | {"ал", "шы"}
_QUESTION_PARTICLES = _KAZAKH_QUESTION_PARTICLES | {"ли"}


def _split_clauses(text: str) -> list[str]:
    """The message cut at sentence ends and at conjunctions, except a
    conjunction between two names of offices or services ("вуз и ЦОН",
    "грант и соцподдержка"): one thing asked of both."""
    parts: list[str] = []
    start = 0
    for m in _CLAUSE_SPLIT_RE.finditer(text):
        before = text[start : m.start()].split()
        after = text[m.end() :].split()
        if (
            m.group(0).strip()
            and before
            and after
            and lexicon(before[-1])
            and lexicon(after[0].strip(",.?!"))
        ):
            continue
        parts.append(text[start : m.start()])
        start = m.end()
    parts.append(text[start:])
    return parts


def _completed(question: str, before: str) -> str:
    """A question that leaves out what the one before it said ("грантқа
    құжатты қайда тапсырамыз және қашанға дейін?": until when do we hand
    them in), read with that question's words, without its question words."""
    if len(question.split()) > ELLIPSIS_WORDS:
        return question
    kept = [w for w in before.split() if not _INTERROGATIVE_RE.fullmatch(fold(w).strip("?!.,"))]
    return " ".join([*kept, question]) if kept else question


def _question_clauses(text: str) -> tuple[list[str], list[str]]:
    """The message's clauses of two words or more, and those that ask something."""
    clauses = []
    for clause in _split_clauses(text):
        pieces = [p for p in clause.split(",") if len(p.split()) >= 2]
        asking = [_ASKS_WHAT_RE.search(fold(p)) is not None for p in pieces]
        if sum(asking) >= 2 or (
            len(pieces) >= 2
            and sum(asking) == 1
            and not any(_clause_asks(p) for p, a in zip(pieces, asking, strict=True) if not a)
        ):
            # "диплом жоғалды, қайда тапсырам, қанша күн күтем": two questions
            # a comma parts, each with its question word (one question after
            # a greeting or a story stays whole: "здравствуйте, подскажите,
            # где получить дубликат"; so does "срочно нужен, в субботу
            # работает ма?", whose "нужен" and "ма" ask of one thing). A story
            # told in commas before one question is parted from it too ("ЭЦҚ
            # бар, порталдан сұраймын, қандай құжат жүктеу керек").
            clauses.extend(pieces)
        elif clause and len(clause.split()) >= 2:
            clauses.append(clause)
    questions = [clause for clause in clauses if _clause_asks(clause)]
    if any("?" in clause for clause in questions):
        # "Оның дипломының телнұсқасы керек. ХҚО қызметкері үйге келе ме?": one
        # who marks a question says "I need" as a statement, not as a question.
        questions = [c for c in questions if "?" in c or not c.rstrip().endswith((".", "!"))]
    return clauses, questions


def _clause_asks(clause: str) -> bool:
    """The clause asks something: two words or more besides a greeting
    ("Сәлеметсіз бе, 2010 жылы ... жоғалтып алдым." asks nothing: the
    greeting's "бе" is not a question), with a question mark or word."""
    rest = GREETING_RE.sub("", fold(clause)).strip()
    return len(rest.split()) >= 2 and ("?" in clause or QUESTION_RE.search(rest) is not None)


def _fmt(d: date) -> str:
    return d.strftime("%d.%m.%Y")


def _names_any(stems: tuple[str, ...], folded: str) -> bool:
    """True when a word of `folded` begins with one of `stems`."""
    return any(re.search(r"(?<!\w)" + re.escape(stem), folded) for stem in stems)
