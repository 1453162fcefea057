"""Messages as citizens write them on a phone, through the assistant with the
real Rasa model: a greeting with a question, a story with two questions, a
burst of short messages, acting after asking, a short follow-up keeping the
language, the short citation with the full reference one tap away, and the
repealed order said once."""

from __future__ import annotations

import pytest

from tests.dialogue.conftest import Citizen, payloads, text_of

pytestmark = pytest.mark.rasa


async def test_a_greeting_with_a_question_gets_the_answer(citizen: Citizen) -> None:
    o = await citizen.says("Здравствуйте! Подскажите, какие документы нужны на дубликат диплома")
    assert o.intent == "ask_documents" and o.lang == "ru"
    assert "удостоверяющ" in text_of(o) and "Источник:" in text_of(o)


async def test_a_story_with_two_questions_gets_both_answers(citizen: Citizen) -> None:
    o = await citizen.says(
        "я в 2012 году окончила КазНУ, при переезде диплом порвался. "
        "куда мне обращаться и сколько это займёт?"
    )
    text = text_of(o)
    assert o.lang == "ru"
    assert "30 календарных дней" in text  # how long
    assert "ЦОН" in text and "канцеляри" in text  # where
    assert len(o.units) >= 2


async def test_acting_after_asking_is_a_new_request(citizen: Citizen) -> None:
    first = await citizen.says("сколько делается дубликат диплома?")
    assert first.intent == "ask_processing_time"
    then = await citizen.says("хочу записаться в цон")
    assert then.intent == "book_queue"
    assert "30 календарных" not in text_of(then)


async def test_acting_after_asking_in_kazakh(citizen: Citizen) -> None:
    await citizen.says("ХҚО қай уақытта жұмыс істейді?")
    then = await citizen.says("ХҚО-ға кезекке жазылғым келеді")
    assert then.intent == "book_queue" and then.lang == "kk"


async def test_a_precise_question_gets_its_own_fact_first(citizen: Citizen) -> None:
    o = await citizen.says("можно ли подать на дубликат через egov и нужна ли там эцп?")
    assert o.units and o.units[0].startswith("duplicate.")
    first = o.replies[0].text.split("\n\n", 1)[0]
    assert "портал" in first and "ЭЦП" in first  # yes, and signed with an EDS


async def test_a_short_follow_up_keeps_kazakh(citizen: Citizen) -> None:
    first = await citizen.says("телнұсқаға қандай құжаттар керек?")
    assert first.lang == "kk"
    o = await citizen.says("ал портал ше?")
    assert o.lang == "kk" and "Дереккөз:" in text_of(o)


async def test_a_short_message_in_plain_russian_switches_a_kazakh_conversation(
    citizen: Citizen,
) -> None:
    """ "а в субботу?" keeps Kazakh; a few plain Russian words with no Kazakh
    in them mean the citizen switched."""
    first = await citizen.says("телнұсқаға қандай құжаттар керек?")
    assert first.lang == "kk"
    short = await citizen.says("а в субботу?")
    assert short.lang == "kk"
    o = await citizen.says("сколько времени занимает оформление")
    assert o.lang == "ru" and "30 календарных" in text_of(o), (o.lang, o.units)


async def test_short_citation_with_the_full_reference_one_tap_away(citizen: Citizen) -> None:
    o = await citizen.says("сколько делается дубликат диплома")
    text = text_of(o)
    cite_line = next(line for line in text.splitlines() if line.startswith("Источник:"))
    assert len(cite_line) < 80 and "№ 654" in cite_line
    cite_buttons = [p for p in payloads(o) if p.startswith("cite:")]
    if cite_buttons:  # a detail unit: its own button
        full = await citizen.presses(cite_buttons[0])
        assert "стандарта" in text_of(full) and "утратил силу" in text_of(full).lower()


async def test_the_repealed_order_is_said_once(citizen: Citizen) -> None:
    one = await citizen.says("сколько делается дубликат диплома")
    two = await citizen.says("а какие документы нужны для дубликата?")
    assert "№ 286" in text_of(one)
    assert "№ 286" not in text_of(two)


async def test_a_burst_is_read_as_one(citizen: Citizen) -> None:
    for fragment in ("здравствуйте", "у меня вопрос", "я потеряла диплом", "КазНУ"):
        await citizen.says(fragment)
    o = await citizen.says("что мне делать")
    assert o.units and o.units[0].startswith("duplicate."), (o.intent, text_of(o))


@pytest.mark.parametrize(
    ("question", "announce", "answered"),
    [
        ("сколько делается дубликат диплома?", "у меня ещё вопрос", "30 календарных"),
        ("телнұсқа қанша күнде дайын болады?", "тағы бір сұрағым бар", "күнтізбелік 30"),
    ],
)
async def test_a_question_announced_after_an_answer_is_not_that_answer_again(
    citizen: Citizen, question: str, announce: str, answered: str
) -> None:
    first = await citizen.says(question)
    assert answered in text_of(first)
    o = await citizen.says(announce)
    assert answered not in text_of(o), (o.intent, o.units)
    assert o.lang == first.lang


@pytest.mark.parametrize(
    ("greeting", "announce"), [("здравствуйте", "у меня вопрос"), ("сәлеметсіз бе", "сұрағым бар")]
)
async def test_a_greeting_then_i_have_a_question_gets_the_topics_not_a_guess(
    citizen: Citizen, greeting: str, announce: str
) -> None:
    await citizen.says(greeting)
    o = await citizen.says(announce)
    assert o.intent == "help" and not o.units, (o.intent, o.units)


async def test_a_new_question_the_model_cannot_place_does_not_repeat_the_last_answer(
    citizen: Citizen,
) -> None:
    """Right after an answer, a question of its own ("after I collect them,
    whom do I take them to?") is not read together with the question just
    answered: that gave the same answer again."""
    first = await citizen.says("әлеуметтік қолдауға өтінішті кімнің атына жазамын?")
    assert first.units
    o = await citizen.says("жинап болған соң кімге апарып беремін?")
    assert o.units != first.units and o.lang == "kk", o.units


@pytest.mark.parametrize(
    "said", ["грантқа мектеп аттестаты керек пе?", "грантка аттестат керек па"]
)
async def test_a_question_naming_our_service_is_not_out_of_scope(
    citizen: Citizen, said: str
) -> None:
    """The model reads "X-ке Y керек пе?" as outside its topics even when X is
    the grant: the words name the school certificate of the grant's list."""
    o = await citizen.says(said)
    assert o.units[:1] == ["grant.documents.education_doc"] and o.lang == "kk", (o.intent, o.units)


@pytest.mark.parametrize(
    ("first", "then"),
    [
        (
            "какие документы нужны на грант?",
            "а номер телефона приемной комиссии университета какой?",
        ),
        ("грантқа қандай құжаттар керек?", "университеттің телефон нөмірін айтыңызшы"),
    ],
)
async def test_the_universitys_phone_after_grants_is_the_grants_answer(
    citizen: Citizen, first: str, then: str
) -> None:
    """Only the duplicate's contacts answer names the university (with ЦОН and
    complaint addresses); a grant conversation keeps the grant's."""
    await citizen.says(first)
    o = await citizen.says(then)
    assert o.units == ["grant.contacts"], o.units


async def test_cancel_is_not_my_bookings(citizen: Citizen) -> None:
    o = await citizen.says("отмените мою запись в цон")
    assert o.intent == "cancel_booking"


async def test_fee_is_said_once_and_not_invented(citizen: Citizen) -> None:
    o = await citizen.says("а стоимость какая?")
    text = text_of(o)
    assert "тенге" not in text
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    assert len(paragraphs) == len(set(paragraphs))


async def test_naming_the_service_first_keeps_it_for_the_questions_after(citizen: Citizen) -> None:
    """ "по гранту вопрос" asks what about grants; "а обед во сколько?" then
    means the admissions office's lunch break, not the university's
    registry's for duplicates."""
    o = await citizen.says("по гранту вопрос")
    assert o.lang == "ru"
    assert "ask:ask_documents:grant" in payloads(o)  # the grant's topics to tap
    lunch = await citizen.says("а обед во сколько?")
    assert lunch.units and lunch.units[0].startswith("grant."), lunch.units
    assert "13:00–14:30" in text_of(lunch) or "13:00 до 14:30" in text_of(lunch)


async def test_a_question_about_the_social_support_in_kazakh_words(citizen: Citizen) -> None:
    o = await citizen.says("сәлем, әлеуметтік қолдау бойынша сұрағым бар")
    assert o.lang == "kk"
    assert "ask:ask_documents:social_support" in payloads(o)


@pytest.mark.parametrize(
    ("said", "service", "lang"),
    [
        ("дубликат", "duplicate", "ru"),
        ("а на грант?", "grant", "ru"),
        ("грант бойынша", "grant", "kk"),
    ],
)
async def test_only_a_service_named_gets_its_topics(
    citizen: Citizen, said: str, service: str, lang: str
) -> None:
    """A service's name and nothing else asks nothing yet: its topics to tap,
    not a guessed answer (pickup, queue rules) nor "I did not understand"."""
    o = await citizen.says(said)
    assert o.lang == lang and not o.units
    assert f"ask:ask_documents:{service}" in payloads(o)


async def test_follow_ups_stay_with_social_support(citizen: Citizen) -> None:
    """After a question on social support, "заявление там на ректора?" and
    "сколько его рассматривают" are about social support, not about the
    duplicates' application form or complaint terms."""
    first = await citizen.says("а соцподдержка для студентов-сирот бывает? что для нее нужно?")
    assert first.units and first.units[0].startswith("social_support."), first.units
    form = await citizen.says("заявление там на ректора пишется?")
    assert form.units and form.units[0].startswith("social_support."), form.units
    term = await citizen.says("и сколько его рассматривают")
    assert term.units and term.units[0].startswith("social_support."), term.units


async def test_a_question_on_writing_is_not_a_language_switch(citizen: Citizen) -> None:
    """ "можно устно или обязательно писать?" names no language: the reply
    stays in Russian and the remembered language is not changed."""
    await citizen.says("хочу пожаловаться на сотрудника цона по дубликату")
    o = await citizen.says("можно устно или обязательно писать?")
    assert o.lang == "ru" and o.intent != "switch_language"
    assert await citizen.assistant.users.get_language(citizen.id) != "kk"


async def test_a_story_does_not_hide_the_service_named_in_its_question(citizen: Citizen) -> None:
    """The story ("сирота, мама лишена прав") reads like a question about
    representatives; the question ("что приложить к документам на грант?")
    is about the grant's documents, never a duplicate's answer."""
    o = await citizen.says(
        "я сирота, папа умер, мама лишена родительских прав. "
        "что мне приложить к документам на грант?"
    )
    assert o.units and o.units[0].startswith("grant.documents"), o.units


@pytest.mark.parametrize(
    ("said", "unit"),
    [
        (
            "университетке телнұсқаға өтініш тапсырғанда қолхат бере ме?",
            "duplicate.receipt.provider",
        ),
        ("и еще согласие какое-то дали подписать на грант, это зачем", "grant.documents.consent"),
    ],
)
async def test_a_question_about_an_action_gets_the_standards_answer(
    citizen: Citizen, said: str, unit: str
) -> None:
    """A question that mentions applying or signing ("өтініш тапсырғанда
    қолхат бере ме?") asks what the standard says; it does not start the
    application form."""
    o = await citizen.says(said)
    assert o.units[:1] == [unit], (o.intent, o.units)


async def test_what_do_i_do_after_losing_the_diploma_is_where_to_apply(citizen: Citizen) -> None:
    """A burst ending "что мне делать" after "я потеряла диплом": where to
    apply, not a unit one of whose examples happens to end the same way
    ("ЭЦП нет, что мне делать?")."""
    for said in ("здравствуйте", "у меня вопрос", "я потеряла диплом", "КазНУ"):
        await citizen.says(said)
    o = await citizen.says("что мне делать")
    assert o.units[:1] == ["duplicate.where_to_apply"], (o.intent, o.units)


async def test_a_channel_the_service_lacks_gets_its_own_no(citizen: Citizen) -> None:
    """ "ал ХҚО-да ше?" after where to apply for a grant: the standard names no
    ЦОН for grants; the citizen hears that, not the same answer again."""
    first = await citizen.says("грантқа құжаттарды қайда тапсырамыз?")
    assert first.units[:1] == ["grant.where_to_apply"], (first.intent, first.units)
    o = await citizen.says("а ЦОН-ға болмайды ма")
    assert o.units[:1] == ["grant.where_to_apply.psc"], (o.intent, o.units)
    assert o.lang == "kk" and "ХҚО аталмаған" in text_of(o)


async def test_how_long_after_a_grant_complaint_is_the_complaints_term(citizen: Citizen) -> None:
    """ "а сколько дней её рассматривают?" after a grant complaint: how long a
    complaint takes, not how long the grant competition does (nor social
    support's term, whose words are as close)."""
    first = await citizen.says("хочу подать жалобу по гранту, куда?")
    assert first.units[:1] == ["grant.complaint"], (first.intent, first.units)
    o = await citizen.says("а сколько дней её рассматривают?")
    assert o.units[:1] == ["grant.complaint.terms"], (o.intent, o.units)
    assert o.lang == "ru"


@pytest.mark.parametrize(
    "said",
    ["вуз готовый дубликат в цон когда отправляет?", "ЖОО дайын құжатты ХҚО-ға қай кезде береді?"],
)
async def test_a_question_naming_two_offices_asks_of_either(citizen: Citizen, said: str) -> None:
    """ "when does the university send the duplicate to ЦОН?" names both
    offices: the unit for ЦОН is not ruled out because the university is
    named first."""
    o = await citizen.says(said)
    assert o.units[:1] == ["duplicate.processing_time.provider_to_psc"], (o.intent, o.units)


@pytest.mark.parametrize(
    ("said", "lang"),
    [
        ("график работы вуза и цона по дубликату", "ru"),
        ("по дубликату как работают вуз и цон, часы приема?", "ru"),
        ("телнұсқа бойынша ЖОО мен ХҚО қай уақытта жұмыс істейді", "kk"),
    ],
)
async def test_hours_of_two_offices_are_both_given(citizen: Citizen, said: str, lang: str) -> None:
    """The hours of the university and of ЦОН asked together: the answer
    gives both, not only the office named first or last."""
    o = await citizen.says(said)
    assert o.units[:1] == ["duplicate.schedule"], (o.intent, o.units)
    assert o.lang == lang


async def test_a_follow_up_naming_another_service_keeps_the_topic(citizen: Citizen) -> None:
    """ "а для дубликата?" after the EDS for a grant's portal application:
    the EDS for a duplicate, not whatever three words suggest."""
    first = await citizen.says("эцп нужна для подачи на грант через портал?")
    assert first.units and first.units[0].startswith("grant."), first.units
    o = await citizen.says("а для дубликата?")
    assert o.units[:1] == ["duplicate.eds"], (o.intent, o.units)
    assert "ЭЦП" in text_of(o)


async def test_a_story_the_model_cannot_place_gets_the_answer_its_words_name(
    citizen: Citizen,
) -> None:
    """A letterless story with the question at its end, which the model
    reads as neither documents nor application: the answer its words and the
    classifier agree on, not "what about grants?"."""
    o = await citizen.says(
        "улым ауылда окиды, биыл УБТ дан 102 балл алды, грантка кужатты калай тапсырамыз"
    )
    assert o.units[:1] in (["grant.where_to_apply"], ["grant.documents"]), (o.intent, o.units)
    assert o.lang == "kk"


@pytest.mark.parametrize(
    "said",
    [
        "здравствуйте, я в 2011 закончила КазНУ, при переезде диплом потерялся( куда "
        "обращаться и сколько это займет?",
        "сәлеметсіз бе, 2010 жылы бітіргем, диплом жоғалды. қайда барамын және қанша уақыт алады?",
    ],
)
async def test_a_short_second_question_that_says_what_it_asks_is_answered(
    citizen: Citizen, said: str
) -> None:
    """ "куда обращаться и сколько это займет?": the story's words took the
    three-word second question over and it went unanswered; alone the
    model is sure of it: the term follows the answer on where to apply."""
    o = await citizen.says(said)
    assert o.units[:1] in (["duplicate.where_to_apply"], ["duplicate.provider_university"]), (
        o.intent,
        o.units,
    )
    assert any(u.startswith("duplicate.processing_time") for u in o.units[1:]), o.units
    assert "30" in text_of(o)


@pytest.mark.parametrize(
    "said",
    [
        "қызым колледж бітірді, ҰБТ тапсырды. грантқа құжатты қайда өткіземіз және қашанға дейін?",
        "дочь сдала ЕНТ, мы из района. куда сдавать документы на грант и до какого числа?",
    ],
)
async def test_a_second_question_that_leaves_out_the_verb_is_read_with_the_first(
    citizen: Citizen, said: str
) -> None:
    """ "where do we hand in the documents and until when?": until when they
    are handed in (23-31 July), not when the results come (15 August)."""
    o = await citizen.says(said)
    assert o.units[:1] == ["grant.where_to_apply"], (o.intent, o.units)
    assert o.units[1:2] in (["grant.application_period"], ["grant.application_period.dates"]), (
        o.units
    )
    assert "31" in text_of(o)


async def test_the_same_fact_for_the_service_named_next(citizen: Citizen) -> None:
    # Orphans' documents for the grant, then "and for social support?": the
    # social-support fact of the same kind, not its whole list of documents.
    await citizen.says("у меня нет родителей, живу с бабушкой. что нужно дополнительно на грант?")
    o = await citizen.says("а на соцподдержку тоже это?")
    assert o.units == ["social_support.documents.orphans"]
    assert "свидетельства о смерти" in text_of(o) and "п. 9" in text_of(o)


async def test_the_same_fact_for_the_service_named_next_in_latin_kazakh(
    citizen: Citizen,
) -> None:
    await citizen.says("UOS qatysushylaryna tenestirilgen adammyn, grantqa qandai qujat qosam")
    o = await citizen.says("aleumettik qoldauga da sol qujattar zharai ma")
    assert o.lang == "kk" and o.units == ["social_support.documents.veterans"]


async def test_social_support_stays_the_topic_of_a_short_follow_up(citizen: Citizen) -> None:
    await citizen.says("кому вообще положена соц поддержка в универе? я на 2 курсе")
    o = await citizen.says("куда с этим обращаться")
    # Its own answer (to the university, an application to its head), not the grant's.
    assert o.units == ["social_support.where_to_apply"]
    assert "руководителя вуза" in text_of(o)


async def test_a_term_asked_after_duplicates_is_the_duplicates_term(citizen: Citizen) -> None:
    await citizen.says("при переезде пропал диплом. куда идти восстанавливать")
    o = await citizen.says("а по срокам?")
    # Not the grant's application period (23-31 July): duplicates have none.
    assert "30 календарных дней" in text_of(o) and "июля" not in text_of(o)


async def test_a_need_stated_before_the_question_is_not_the_question(citizen: Citizen) -> None:
    o = await citizen.says(
        "Анам мүгедектер арбасында, үйден шыға алмайды. Оның дипломының телнұсқасы керек. "
        "ХҚО қызметкері үйге келе ме?"
    )
    assert o.lang == "kk"
    first = o.replies[0].text.split("\n\n", 1)[0]
    assert "тұрғылықты жеріне барып" in first  # yes, ЦОН comes home


async def test_for_that_points_back_at_the_last_answer(citizen: Citizen) -> None:
    await citizen.says("әкем мүгедек, үйден шыға алмайды. ХҚО қызметкері үйге келіп қабылдай ма?")
    o = await citizen.says("ол үшін қайда звонить керек?")
    assert o.units and o.units[0].startswith("duplicate.home_visit")
    assert "1414" in text_of(o)


async def test_a_complaint_about_psc_is_about_duplicates_only(citizen: Citizen) -> None:
    # ЦОН takes applications for duplicates only: the grant's complaint rules
    # are not given beside them.
    o = await citizen.says("ЦОН-да құжатымды қабылдамады, шағымды кімге жазамын")
    assert o.lang == "kk"
    assert o.units and all(u.startswith("duplicate.") for u in o.units)


async def test_an_unsure_follow_up_is_not_read_with_the_question_answered(
    citizen: Citizen,
) -> None:
    # "How do I get the answer?" right after the complaint's receipt: the
    # complaint's answer, not the receipt again (read with the question before
    # it, the model was sure of the documents).
    first = await citizen.says(
        "Телнұсқа бойынша университет кеңсесіне шағым жазып апардым. Қабылдағанын немен дәлелдеймін?"
    )
    assert first.lang == "kk"
    o = await citizen.says("жауабын қалай алам")
    assert o.units and o.units[0].startswith("duplicate.complaint")
    assert o.units != first.units


async def test_a_fact_asked_at_psc_is_the_duplicates_fact(citizen: Citizen) -> None:
    # A receipt at ЦОН, no service named: ЦОН serves duplicates only, so it
    # is the duplicates' receipt, not the grant's.
    o = await citizen.says("цонға құжат өткізгенде қолхат береді ме")
    assert o.lang == "kk" and o.units == ["duplicate.receipt.psc"]


async def test_the_admissions_committee_is_the_grants_office(citizen: Citizen) -> None:
    # No service named but the admissions committee: grants, not duplicates
    # (whose contacts answer alone names the university).
    o = await citizen.says("телефон приемной комиссии университета подскажите")
    assert o.lang == "ru" and o.units and o.units[0] == "grant.contacts"


async def test_asking_whether_the_order_still_stands_is_answered(citizen: Citizen) -> None:
    # The model cannot place "isn't it repealed?" said in passing; the bot
    # answers it (the order No. 286 that repealed it) instead of "I did not
    # understand".
    await citizen.says("по какому приказу вы отвечаете про гранты?")
    o = await citizen.says("так он вроде утратил силу давно, нет?")
    assert o.lang == "ru" and o.intent == "ask_legal_basis"
    assert "286" in text_of(o)


async def test_a_six_word_follow_up_on_a_complaint_asks_the_complaints_term(
    citizen: Citizen,
) -> None:
    # Right after a grant complaint, "in what terms must they answer me" is
    # the complaint's term (which the order does not set for grants), not
    # the service's processing time that the model reads in "сроки".
    await citizen.says("подавала на грант, в вузе нагрубили. куда жаловаться?")
    o = await citizen.says("в какие сроки обязаны ответить мне")
    assert o.lang == "ru" and o.units and o.units[0] == "grant.complaint.terms"


async def test_a_follow_up_that_keeps_to_the_representative_is_about_the_representative(
    citizen: Citizen,
) -> None:
    # "May she collect it too?" right after "may my mother apply for me?":
    # the model reads "collect"; the words keep to the representative.
    await citizen.says("я в армии, мама может за меня сдать заявление на дубликат?")
    o = await citizen.says("а забрать тоже она может?")
    assert o.lang == "ru" and o.units and o.units[0].startswith("duplicate.representative")


async def test_where_the_order_is_silent_the_operator_button_is_offered_once(
    citizen: Citizen,
) -> None:
    # No service named: the fee for every service, which the order sets for
    # none. 1414's own assistant points at its operator button, once, rather
    # than telling the citizen to phone 1414.
    o = await citizen.says("а это платно вообще? сколько стоит")
    text = text_of(o)
    assert o.lang == "ru" and o.intent == "ask_fee"
    assert text.count("нажмите «Связаться с оператором» ниже") == 1, text
    assert "1414" not in text, text
    assert "op" in payloads(o)


async def test_kazakh_is_pointed_at_the_operator_button_in_kazakh(citizen: Citizen) -> None:
    o = await citizen.says("грантқа шағымды қайда жазамын, мерзімі қанша")
    text = text_of(o)
    assert o.lang == "kk" and o.units and o.units[0].startswith("grant.complaint")
    assert text.count("төмендегі «Операторға хабарласу» батырмасын басыңыз") == 1, text
    assert "1414" not in text, text


async def test_when_to_bring_the_originals_is_the_originals_deadline(citizen: Citizen) -> None:
    # "When do I bring the originals if I win?": the "when" makes it a
    # question of terms, and the originals' deadline is one of them (not the
    # 15 August result the service's term leads with).
    o = await citizen.says("грант ұтып алсам түпнұсқаларды қашан әкелемін")
    assert o.lang == "kk" and o.units and o.units[0] == "grant.originals.deadline"
    assert "түпнұсқа" in text_of(o) and "5-1" in text_of(o)


async def test_when_the_classifier_all_but_names_the_fact_it_is_given(citizen: Citizen) -> None:
    # DIET reads "по срокам" as the application period (23-31 July); the unit
    # classifier is all but certain the citizen asks when the results come.
    o = await citizen.says("привет чё там по срокам гранта, когда итоги")
    assert o.lang == "ru" and o.units and o.units[0].startswith("grant.processing_time")
    assert "15 августа" in text_of(o).split("\n\n", 1)[0]


async def test_when_to_hand_in_grant_documents_is_the_application_period(
    citizen: Citizen,
) -> None:
    # "When do I hand the documents in?" is 23-31 July; the originals'
    # deadline answers only when the originals are named.
    await citizen.says("по гранту вопрос, когда будут итоги?")
    o = await citizen.says("а документы когда сдавать")
    assert o.lang == "ru" and o.units and o.units[0].startswith("grant.application_period")
    assert "с 23 по 31 июля" in text_of(o).split("\n\n", 1)[0]
    kk = await citizen.says("грантқа құжаттарды қашан өткіземіз")
    assert kk.units and kk.units[0].startswith("grant.application_period"), kk.units
    originals = await citizen.says("а оригиналы когда нести?")
    assert originals.units and originals.units[0] == "grant.originals.deadline"


async def test_a_story_the_model_cannot_place_gets_the_fact_its_words_name(
    citizen: Citizen,
) -> None:
    # DIET falls back on the story; the words and the unit classifier agree
    # on the fact asked (results void when the portal data do not match the
    # originals), far ahead of anything else.
    o = await citizen.says(
        "подавали на грант через портал и ошиблись в номере сертификата, "
        "заметили только сейчас. чем грозит?"
    )
    assert o.lang == "ru" and o.units and o.units[0] == "grant.originals.mismatch"
    assert "утрачивают силу" in text_of(o).split("\n\n", 1)[0]


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("дубликат водительских прав как сделать", "ru"),
        ("жүргізуші куәлігінің телнұсқасын қайдан аламын", "kk"),
        ("свидетельство о рождении потеряли, как восстановить", "ru"),
    ],
)
async def test_another_document_is_not_answered_with_the_diploma(
    citizen: Citizen, text: str, lang: str
) -> None:
    # Not "ready duplicates are collected at ЦОН": that is the diploma's.
    o = await citizen.says(text)
    assert o.lang == lang and not o.units
    assert "1414" in text_of(o) and "Дереккөз" not in text_of(o) and "Источник" not in text_of(o)


async def test_a_document_in_a_grant_conversation_is_still_asked_of_the_grant(
    citizen: Citizen,
) -> None:
    # Asked of the grant's list, not sent to 1414 as another service's.
    await citizen.says("какие документы нужны на грант")
    o = await citizen.says("а свидетельство о рождении нужно?")
    assert o.units == ["grant.documents"] and "1414" not in text_of(o), o.units


async def test_after_the_portal_a_short_question_is_asked_of_the_portal(
    citizen: Citizen,
) -> None:
    # The general answer ("collected at the university or ЦОН") leaves out
    # that nothing comes through the portal itself; its own answer says so.
    await citizen.says("телнұсқаға егов арқылы өтініш беруге бола ма")
    o = await citizen.says("ал дайын болса қайдан аламын")
    assert o.lang == "kk" and o.units == ["duplicate.pickup.portal"], o.units
    assert "қағаз түрінде" in text_of(o).split("\n\n", 1)[0]
    await citizen.says("хочу подать на дубликат через егов, это можно?")
    ru = await citizen.says("а забирать потом куда?")
    assert ru.units == ["duplicate.pickup.portal"], ru.units


async def test_a_document_the_standard_does_not_list_is_said_not_to_be_in_it(
    citizen: Citizen,
) -> None:
    # Not "yes, a certificate of the grant is issued" (the model hears
    # "куәлік"): the standard's list has no birth certificate; the list follows.
    await citizen.says("грантқа қандай құжат керек")
    o = await citizen.says("туу туралы куәлігі де керек пе")
    first = text_of(o).split("\n\n", 1)[0]
    assert o.lang == "kk" and o.units == ["grant.documents"], o.units
    assert first.startswith("Мұндай құжат стандарттағы құжаттар тізбесінде жоқ")
    await citizen.says("на дубликат что нужно из документов?")
    ru = await citizen.says("военный билет надо брать?")
    assert ru.units == ["duplicate.documents"], ru.units
    assert text_of(ru).startswith("Такого документа нет в перечне")


async def test_a_short_question_in_a_duplicate_conversation_is_not_lost_to_a_grant_fact(
    citizen: Citizen,
) -> None:
    # A grant's education document came as close in words, so the rescue of
    # a message the model cannot place gave up: "I did not understand".
    await citizen.says(
        "universitettin aty auysyp ketken, qazir basqa atau, otinishte qalai korsetemin"
    )
    o = await citizen.says("ozim turaly ne zhazu kerek")
    assert o.lang == "kk" and o.units == ["duplicate.application_form.applicant_details"], o.units


async def test_another_number_than_1414_gets_the_contacts_the_order_gives(
    citizen: Citizen,
) -> None:
    # Was "the status can be learnt at 1414": the citizen knows 1414 and asks
    # for another number; the order gives none, said so.
    await citizen.says("дипломның телнұсқасы керек")
    o = await citizen.says("дубликат бойынша 1414-тен басқа телефон бар ма?")
    assert o.lang == "kk" and o.units[:1] == ["duplicate.contacts"], o.units
    assert "бір ғана байланыс" in text_of(o)


async def test_when_is_answered_with_the_dates_not_the_whole_period(citizen: Citizen) -> None:
    # The period's general answer also tells what may be changed until when
    # and where the state order is published: a phone screen for a date.
    o = await citizen.says("когда прием заявлений на грант")
    assert o.units == ["grant.application_period.dates"], o.units
    first = text_of(o).split("\n\n", 1)[0]
    assert first.startswith("С 23 по 31 июля") and "www.edu.gov.kz" not in text_of(o)
    assert "23.07.2027" in text_of(o)  # this year's window is still worked out
    kk = await citizen.says("грант нәтижесі қашан шығады")
    assert kk.lang == "kk" and kk.units == ["grant.processing_time.aug15"], kk.units


async def test_when_are_grant_documents_handed_in_is_not_who_provides_the_service(
    citizen: Citizen,
) -> None:
    # The model reads "кашан тапсырады" as where to apply (0.99): the answer
    # was "the Ministry provides the service"; the question is when.
    o = await citizen.says("грантка кужаттарды кашан тапсырады")
    assert o.lang == "kk" and o.units == ["grant.application_period.dates"], o.units
    where = await citizen.says("грантқа құжатты қайда тапсырады")
    assert where.units[:1] == ["grant.where_to_apply"], where.units


async def test_without_a_booking_is_not_without_an_eds(citizen: Citizen) -> None:
    # "без записи примут?" was "no EDS is needed at ЦОН": the EDS's own
    # answer needs the EDS named, or said just before ("без нее").
    o = await citizen.says("в цоне без записи примут?")
    assert o.units[:1] == ["duplicate.queue"], o.units
    assert "электронной очереди" in text_of(o) and "ЭЦП" not in text_of(o).split("\n\n", 1)[0]
    kk = await citizen.says("хкога барсам болама")
    assert kk.lang == "kk" and kk.units[:1] == ["duplicate.apply.psc"], kk.units
    await citizen.says("у меня нет эцп")
    back = await citizen.says("а в вуз можно без нее?")
    assert back.units[:1] == ["duplicate.eds.not_needed_in_person"], back.units


async def test_how_long_during_social_support_is_social_supports_own_answer(
    citizen: Citizen,
) -> None:
    # The grant's "until 15 August" lists social support among its services;
    # social support's own answer also says the order sets no term of its own.
    await citizen.says("студенттерге әлеуметтік қолдау")
    o = await citizen.says("канша уакытта карайды")
    assert o.lang == "kk" and o.units[:1] == ["social_support.processing_time"], o.units
    assert "Әлеуметтік қолдауға бөлек мерзім бұйрықта көрсетілмеген" in text_of(o)


async def test_until_when_after_asking_of_one_office_is_that_offices_hours(
    citizen: Citizen,
) -> None:
    # "Does ЦОН work on Saturdays?" is answered for both offices; "а до
    # скольки" asks of ЦОН, not for every office's timetable again.
    await citizen.says("скажите пж цон по субботам работает? хочу сдать на дубликат")
    o = await citizen.says("а до скольки")
    assert o.units == ["duplicate.schedule.psc"], o.units
    assert "20:00" in text_of(o) and "Канцелярия вуза" not in text_of(o)
    await citizen.says("дубликат")
    general = await citizen.says("до скольки работают")
    assert general.units[:1] == ["duplicate.schedule"], general.units
    # "In general, in full" after ЦОН was named: every office's hours.
    await citizen.says("ХҚО сенбіде ашық па, телнұсқаға барайын деп едім")
    whole = await citizen.says("жалпы графигі қандай")
    assert whole.units[:1] == ["duplicate.schedule"], whole.units


async def test_an_office_pressed_is_the_one_a_short_follow_up_asks_about(
    citizen: Citizen,
) -> None:
    # ЦОН named, then the university's office chosen with a button: "а до
    # скольки" asks the university's hours, not every office's timetable.
    await citizen.says("скажите пж цон по субботам работает? хочу сдать на дубликат")
    psc = await citizen.says("а до скольки")
    assert "ch:provider" in payloads(psc), payloads(psc)
    pressed = await citizen.presses("ch:provider")
    assert pressed.units == ["duplicate.schedule.provider"], pressed.units
    o = await citizen.says("а до скольки")
    assert o.units == ["duplicate.schedule.provider"], o.units
    assert "18:00" in text_of(o) and "20:00" not in text_of(o)


@pytest.mark.parametrize(
    ("complaint", "where"),
    [
        ("хочу пожаловаться на сотрудника вуза", "по какому адресу отправлять"),
        (
            "ХКО кызметкери маган дорекилик корсетти, шагым жазгым келип отыр",
            "кай мекенжайга жиберемин",
        ),
    ],
)
async def test_where_to_send_a_complaint_is_not_my_bookings(
    citizen: Citizen, complaint: str, where: str
) -> None:
    # "What address do I send it to", after a complaint, asks the standard
    # (its address clause), not for the citizen's bookings (the model reads
    # "address" as "where is my booking").
    await citizen.says(complaint)
    o = await citizen.says(where)
    assert o.units == ["duplicate.complaint.address"], (o.intent, o.units)
    # A question about one's own booking is still that (this assistant has
    # no booking flow: the queue's rules stand for the list of bookings).
    mine = await citizen.says("по какому адресу моя запись")
    assert mine.intent == "my_bookings", (mine.intent, mine.units)
    assert "duplicate.complaint.address" not in mine.units, mine.units


async def test_a_long_question_is_not_a_goodbye(citizen: Citizen) -> None:
    await citizen.says(
        "добрый день, сын сдал ент на 110, хотим на грант. какие документы собирать?"
    )
    o = await citizen.says("слышала там еще согласие какое-то подписывают, это что")
    assert o.units == ["grant.documents.consent"], (o.intent, o.units)
    assert "До свидания" not in text_of(o)
    bye = await citizen.says("спасибо, до свидания")
    assert bye.intent == "goodbye", bye.intent


@pytest.mark.parametrize(
    ("message", "first", "second"),
    [
        (
            "где получить дубликат, сколько дней делается",
            "duplicate.where_to_apply",
            "duplicate.processing_time",
        ),
        (
            "диплом жогалды, кайда тапсырам, канша кун кутем",
            "duplicate.where_to_apply",
            "duplicate.processing_time",
        ),
        (
            "грантқа құжатты қайда тапсырамын, қашанға дейін қабылдайды",
            "grant.where_to_apply",
            "grant.application_period",
        ),
    ],
)
async def test_two_questions_parted_by_a_comma_get_two_answers(
    citizen: Citizen, message: str, first: str, second: str
) -> None:
    # Typed on a phone, two questions are parted by a comma, not by "и":
    # where first (its words alone choose it), then how long.
    o = await citizen.says(message)
    assert o.units[:2] == [first, second], o.units


async def test_a_comma_after_a_statement_parts_no_question(citizen: Citizen) -> None:
    # "срочно нужен" and "работает ма?" ask one thing: Saturday hours.
    o = await citizen.says("дубликат диплома срочно нужен, в субботу университет работает ма?")
    assert o.units[:1] == ["duplicate.schedule.saturday"], o.units


async def test_a_short_message_naming_an_office_and_a_new_topic_asks_anew(
    citizen: Citizen,
) -> None:
    # After ЦОН's hours, "if I hand it in at ЦОН, what about the term?" (the
    # model unsure) asks how long the duplicate takes, not ЦОН's hours again.
    await citizen.says("ХКО нешеге дейин истейди")
    o = await citizen.says("ХКО да тапсырсам ал мерзими ше")
    assert o.units[:1] and o.units[0].startswith("duplicate.processing_time"), o.units
    assert "30" in text_of(o)
    # A name alone follows up on that question now, not on the hours.
    portal = await citizen.says("ал портал ше")
    assert portal.units[:1] and portal.units[0].startswith("duplicate.processing_time"), (
        portal.units
    )


@pytest.mark.parametrize(
    ("office", "receipt", "expected"),
    [
        (
            "какие документы сдавать в канцелярию вуза на дубликат",
            "а бумагу какую-то дадут что приняли?",
            "duplicate.receipt.provider",
        ),
        (
            "цон до скольки работает",
            "а бумагу какую-то дадут что приняли?",
            "duplicate.receipt.psc",
        ),
        (
            "ЖОО кеңсесіне телнұсқаға қандай құжат апарамын",
            "қабылдағанын растайтын қағаз бере ме",
            "duplicate.receipt.provider",
        ),
    ],
)
async def test_the_receipt_is_the_one_of_the_office_the_conversation_is_at(
    citizen: Citizen, office: str, receipt: str, expected: str
) -> None:
    # The receipt asked of without naming an office: the university's after
    # the university office's documents, ЦОН's after ЦОН's hours.
    await citizen.says(office)
    o = await citizen.says(receipt)
    assert o.units == [expected], o.units


async def test_a_story_told_in_commas_before_one_question(citizen: Citizen) -> None:
    # "I have an EDS, I ask for a duplicate on the portal, which documents do
    # I upload": the question after the commas, with the story's portal.
    o = await citizen.says("ЭЦК бар, порталдан телнуска сураймын, кандай кужат жуктеу керек")
    assert o.units[:1] == ["duplicate.documents.portal"], (o.intent, o.units)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("студентке соц поддержка алу үшін қандай құжаттар керек", "social_support.documents"),
        ("соц. поддержка бойынша какие сроки рассмотрения", "social_support.processing_time"),
        ("через интернет дубликат оформить реально? как это работает вообще", "duplicate."),
    ],
)
async def test_a_service_or_office_named_the_short_way(
    citizen: Citizen, text: str, expected: str
) -> None:
    # "соц поддержка" is social support, "через интернет" is the portal.
    o = await citizen.says(text)
    assert o.units and o.units[0].startswith(expected), (o.intent, o.units)
    if expected == "duplicate.":
        assert "portal" in o.units[0], o.units


@pytest.mark.parametrize(
    ("story", "errand", "expected"),
    [
        (
            "Әкем төсекте жатыр, оның дипломының дубликаты керек",
            "дайын болғанда оның орнына мен алып кете аламын ба",
            "duplicate.representative",
        ),
        (
            "маме нужен дубликат диплома, она сама не ходит",
            "мен за неё заявление подать могу?",
            "duplicate.representative.submit",
        ),
        (
            "маме нужен дубликат диплома, она сама не ходит",
            "а забрать готовый смогу вместо неё?",
            "duplicate.representative",
        ),
    ],
)
async def test_an_errand_for_someone_else_is_the_representative(
    citizen: Citizen, story: str, errand: str, expected: str
) -> None:
    # Collecting or applying for another person: whether a representative
    # may, not the citizen's own pickup or application form.
    await citizen.says(story)
    o = await citizen.says(errand)
    assert o.units[:1] and o.units[0].startswith(expected), (o.intent, o.units)
    assert o.intent != "submit_application"


@pytest.mark.parametrize(
    ("story", "question", "expected"),
    [
        # An orphan asking which extra documents: the orphans' documents,
        # not the whole list again.
        (
            "Жиенім жетім, әкесі мен шешесі қайтыс болған, біз қамқоршысымыз",
            "грантқа тапсырғанда қандай қосымша құжат керек",
            "grant.documents.orphans",
        ),
        (
            "я после детского дома, в этом году поступаю",
            "для гранта нужны какие-то доп документы?",
            "grant.documents.orphans",
        ),
        # "Will they give me a duplicate?" after what happened to the
        # diploma: whether that is a reason the standard names, not what the
        # result is.
        ("собака диплом погрызла", "дубликат дадут?", "duplicate.reason.damaged"),
        (
            "дипломымда тегім қате жазылып қалған, бір әріпі басқа",
            "ондайда телнұсқа бере ме",
            "duplicate.reason.errors",
        ),
    ],
)
async def test_a_question_after_a_story_is_asked_of_what_the_story_told(
    citizen: Citizen, story: str, question: str, expected: str
) -> None:
    await citizen.says(story)
    o = await citizen.says(question)
    assert o.units[:1] == [expected], (o.intent, o.units)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # going to the office for a duplicate: what the application needs
        (
            "universitettin kensesine dublikatqa barmaqpyn, ozimmen ne alyp baruym kerek",
            "duplicate.documents.provider",
        ),
        ("диплом потеряла, что с собой нести в цон", "duplicate.documents.psc"),
        # told it is ready: what collecting it needs
        ("dublikat dayin dep habarlama keldi. HQO-ga ne alyp baruym kerek", "duplicate.pickup.psc"),
    ],
)
async def test_what_to_bring_is_for_the_errand_the_citizen_is_on(
    citizen: Citizen, text: str, expected: str
) -> None:
    o = await citizen.says(text)
    assert o.units[:1] == [expected], (o.intent, o.units)


@pytest.mark.parametrize(
    ("before", "text", "expected"),
    [
        # the stipend is the grant's result (clause 6): the grant stays the
        # conversation's service, and the next short question is the grant's
        (
            ["грант берілсе қолға қандай құжат береді", "стипендия қанша болады"],
            "ал куәлікті қайдан аламыз",
            "grant.pickup",
        ),
        # "those same days?" with the portal named: the period just answered
        (
            ["грантқа құжаттарды қай күндері қабылдайды"],
            "егов арқылы берсек те сол күндер ме",
            "grant.application_period",
        ),
        # the term for handing in, during social support: when applications
        # are taken, not how long they are considered
        (
            ["әлеуметтік қолдауға өтінішті қайда апарамын"],
            "құжат тапсырудың мерзімі бар ма",
            "social_support.application_period",
        ),
        (["грант"], "а срок подачи документов какой", "grant.application_period"),
        # a story of an application that reads like "check my status", then
        # a question: the question is answered
        (
            [],
            "дубликатка егов аркылы отиниш бергенмин, 40 кун отти, университет "
            "ештене истемей жатыр. порталдан бергендерге шагым калай болады?",
            "duplicate.complaint.portal",
        ),
        # where to get it once the duplicate is ready: where it is collected;
        # with nothing ready yet, where one applies
        (["дубликат дайын болғанын қайдан білемін"], "ал қайда барып аламын", "duplicate.pickup"),
        ([], "телнұсқаны қайда барып аламын", "duplicate.where_to_apply"),
        # sent through the portal out of hours: accepted the next working day,
        # the hour told in this message or in the one before; with no portal
        # and no hour, when applications are taken
        (
            [],
            "грантқа 31 шілде түнде порталдан жіберсем қабылдай ма",
            "grant.schedule.portal_after_hours",
        ),
        (
            ["в субботу вечером отправила заявление на дубликат через егов"],
            "а когда его примут?",
            "duplicate.schedule.portal_after_hours",
        ),
        ([], "грантқа құжаттарды қашан қабылдайды", "grant.application_period.dates"),
    ],
)
async def test_what_the_conversation_said_before_decides_the_fact(
    citizen: Citizen, before: list[str], text: str, expected: str
) -> None:
    for message in before:
        await citizen.says(message)
    o = await citizen.says(text)
    assert o.units[:1] == [expected], (o.intent, o.units)


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("ЭЦҚ жоқ менде", "duplicate.status.contact_centre"),
        ("a esli ecp net?", "duplicate.status.contact_centre"),
        ("эцп есть, сама могу посмотреть?", "duplicate.status.remote_eds"),
        # applying with it is another question
        ("ЭЦҚ-мен порталдан өтініш беруге бола ма", "duplicate.portal.eds_signature"),
    ],
)
async def test_an_eds_said_after_the_status_is_about_learning_it(
    citizen: Citizen, said: str, expected: str
) -> None:
    await citizen.says("дубликатқа өтініш бергенмін, статусын қалай білемін?")
    o = await citizen.says(said)
    assert o.units[:1] == [expected], (o.intent, o.units)


@pytest.mark.parametrize(
    ("text", "form"),
    [
        ("я уже подала заявление на дубликат в цон", False),
        ("дубликатқа ХҚО арқылы өтініш тапсырдым", False),
        ("подала заявление на дубликат, хочу еще одно подать", True),
    ],
)
async def test_an_application_told_as_done_does_not_open_the_form(
    citizen: Citizen, text: str, form: bool
) -> None:
    o = await citizen.says(text)
    assert (o.intent == "submit_application") is form, (o.intent, o.units)


async def test_the_portals_hours_are_said_once(citizen: Citizen) -> None:
    o = await citizen.says("на дубликат через портал в выходные заявления принимают?")
    assert o.units[:1] in (["duplicate.schedule.portal"], ["duplicate.schedule.portal_after_hours"])
    assert text_of(o).count("круглосуточно") == 1, text_of(o)


@pytest.mark.parametrize(
    ("before", "text"),
    [
        ("дубликат диплома где получают", "можно прямо здесь в чате оформить заявление?"),
        ("телнұсқа алу үшін не істеу керек", "сіз арқылы өтініш беруге бола ма"),
        # grants are not taken here: the form's answer says so, and where
        ("грантқа қалай өтініш беремін", "осы чат арқылы өтінішті жіберуге бола ма"),
    ],
)
async def test_the_bot_named_as_the_way_to_apply_is_the_form_here(
    citizen: Citizen, before: str, text: str
) -> None:
    await citizen.says(before)
    o = await citizen.says(text)
    assert o.intent == "submit_application", (o.intent, o.units)


async def test_an_application_sent_through_the_bot_is_not_a_new_one(citizen: Citizen) -> None:
    await citizen.says("дубликат диплома где получают")
    o = await citizen.says("я через вас уже отправила заявление, когда ответят")
    assert o.intent != "submit_application", (o.intent, o.units)


@pytest.mark.parametrize(
    "text",
    [
        "еще один вопрос: грантникам стипендию дают?",
        "тағы бір сұрақ: грантпен оқитындарға шәкіртақы бөліне ме",
    ],
)
async def test_one_more_question_opens_a_question_like_a_greeting(
    citizen: Citizen, text: str
) -> None:
    await citizen.says("грант конкурсына құжат қашан қабылданады")
    o = await citizen.says(text)
    assert o.units[:1] == ["grant.result.stipend_order"], (o.intent, o.units)


@pytest.mark.parametrize(
    ("before", "text", "expected"),
    [
        ("грантқа егов арқылы өтініш жібердік", "ал жеке кабинетімізге тағы не түседі?", True),
        ("на грант подавали через егов", "что еще придет в кабинет на портале?", True),
        ("дубликатқа порталдан өтініш бердім", "кабинетке қандай хабарлама келеді", True),
        # whether the award's notice comes there; and nothing came: not "what comes"
        ("на грант подавали через егов", "уведомление о гранте придет в кабинет?", False),
        ("на грант подавали через егов", "в кабинет пока ничего не приходит", False),
    ],
)
async def test_what_comes_to_the_portal_cabinet_is_all_of_it(
    citizen: Citizen, before: str, text: str, expected: bool
) -> None:
    await citizen.says(before)
    o = await citizen.says(text)
    assert (o.units[:1] in (["grant.result.portal"], ["duplicate.result.portal"])) is expected, (
        o.intent,
        o.units,
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Salem, men 2009 jyly QazUTU bitirdim. Diplomym avtobusta sumkammen birge urlanyp "
            "ketti. Dublikat qansha kunde dayin bolady?",
            "duplicate.processing_time",
        ),
        (
            "салем, 2010 жылы ЕНУ бітіргем, диплом ескі пәтерде қалып қойыпты, таба алмадым. "
            "телнұсқаға қандай құжат керек",
            "duplicate.documents",
        ),
    ],
)
async def test_a_story_read_as_another_topic_is_answered_by_its_question(
    citizen: Citizen, text: str, expected: str
) -> None:
    # The story reads as "where do I apply" (about 0.7); its last sentence
    # asks, all but certainly, how long, or what to bring.
    o = await citizen.says(text)
    assert o.units[:1] == [expected], (o.intent, o.units)


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("кеше ЦОН-ға бронь жасап қойып едім, сол жазылуларымды көрсетіңізші", "my_bookings"),
        ("телнұсқа бойынша ЖОО кеңсесінің кестесін жазып беріңізші", "ask_schedule"),
        # a booking stays one, the timetable or not
        ("жұмыс кестесіне қарап, ертеңге ХҚО-ға жазып қойыңыз", "book_queue"),
        ("запишите меня в цон и скиньте график", "book_queue"),
    ],
)
async def test_a_message_read_as_book_me_that_asks_to_see_or_to_know(
    citizen: Citizen, text: str, intent: str
) -> None:
    o = await citizen.says(text)
    assert o.intent == intent, (o.intent, o.units)


async def test_a_short_message_naming_the_timetable_asks_for_it(citizen: Citizen) -> None:
    await citizen.says("ЦОН по субботам открыт? на дубликат")
    o = await citizen.says("жалпы кестені толық айтыңызшы")
    assert o.units[:1] == ["duplicate.schedule"], (o.intent, o.units)


async def test_a_stipend_for_grant_holders_keeps_the_conversation_with_grants(
    citizen: Citizen,
) -> None:
    # "стипендия" also names social support; "грантникам" says whose it is.
    o = await citizen.says("стипендию грантникам дают?")
    assert o.units[:1] == ["grant.result.stipend_order"], o.units
    o = await citizen.says("а сколько дней рассматривают?")
    assert o.units[:1] == ["grant.processing_time"], o.units


async def test_a_document_named_with_too_is_that_document_not_the_same_list(
    citizen: Citizen,
) -> None:
    # "тоже" after social support's documents would give the grant's whole
    # list; the message names one document of it.
    await citizen.says("для соцподдержки в вуз какие документы сдавать?")
    o = await citizen.says("у сына тоже есть заключение ВКК, к гранту его прикладывать надо?")
    assert o.units[:1] == ["grant.documents.vkk"], (o.intent, o.units)


@pytest.mark.parametrize(
    ("first", "then"),
    [
        ("дубликатқа ХҚО-ға барсам қабылдай ма", "онда не апарамын"),
        ("в цон можно подать на дубликат диплома?", "а с чем туда идти?"),
    ],
)
async def test_what_to_bring_after_naming_the_psc_is_the_psc_list(
    citizen: Citizen, first: str, then: str
) -> None:
    await citizen.says(first)
    o = await citizen.says(then)
    assert o.units[:1] == ["duplicate.documents.psc"], (o.intent, o.units)


async def test_what_comes_from_the_site_when_ready(citizen: Citizen) -> None:
    await citizen.says("дубликат диплома через egov можно заказать?")
    o = await citizen.says("если через сайт, то что мне придет когда он будет готов")
    assert o.units[:1] == ["duplicate.result.portal"], (o.intent, o.units)


async def test_a_word_of_the_last_answer_asked_about_gets_that_answer(
    citizen: Citizen,
) -> None:
    o = await citizen.says(
        "Біз Моңғолиядан көшіп келдік, ұлтымыз қазақ, азаматтық әлі жоқ. "
        "Ұлым грантқа түспек, қосымша не дайындаймыз?"
    )
    assert o.units[:1] == ["grant.documents.kandas"], (o.intent, o.units)
    o = await citizen.says("растаушы құжат дегеніңіз қандай құжат? сары кітапша ма")
    assert o.units[:1] == ["grant.documents.kandas"], (o.intent, o.units)


@pytest.mark.parametrize(
    "text",
    [
        "заполните за меня заявление на дубликат, ИИН 950101300123",
        "дубликатқа өтінішті толтырып жіберіңізші",
    ],
)
async def test_asked_to_file_the_application_is_the_form(citizen: Citizen, text: str) -> None:
    o = await citizen.says(text)
    assert o.intent == "submit_application", (o.intent, o.units)


@pytest.mark.parametrize(
    "text",
    [
        "телнұсқаның өзін pdf етіп поштаға жібере ала ма",
        "дубликат диплома можно будет скачать себе файлом?",
    ],
)
async def test_the_duplicate_as_a_file_is_paper_only(citizen: Citizen, text: str) -> None:
    await citizen.says("дипломның телнұсқасын алғым келеді")
    o = await citizen.says(text)
    assert o.units[:1] == ["duplicate.result.paper_only"], (o.intent, o.units)


async def test_when_ready_if_handed_in_at_the_psc_is_the_psc_term(citizen: Citizen) -> None:
    # Not the university's hand-over to ЦОН: nobody named it.
    o = await citizen.says("телнұсқаға ХҚО-ға құжаттарды өткізсем қашан дайын болады")
    assert o.units[:1] == ["duplicate.processing_time.psc"], (o.intent, o.units)
    o = await citizen.says("университет оны ХҚО-ға қашан жібереді")
    assert o.units[:1] == ["duplicate.processing_time.provider_to_psc"], (o.intent, o.units)


@pytest.mark.parametrize(
    ("first", "then", "lang"),
    [
        # Four words Russian, one Kazakh, in a Kazakh conversation: Russian.
        (
            "сәлем, қызым грантқа түскісі келеді, құжатты вузға апару керек пе?",
            "а оригиналы когда сдавать керек?",
            "ru",
        ),
        # Five words Kazakh, two Russian, in a Russian conversation: Kazakh.
        (
            "какие документы на дубликат?",
            "өтінішті порталда толтырып жатырмын, қате кетсе что делать",
            "kk",
        ),
    ],
)
async def test_a_mixed_message_is_answered_in_the_language_most_of_it_is_in(
    citizen: Citizen, first: str, then: str, lang: str
) -> None:
    await citizen.says(first)
    o = await citizen.says(then)
    assert o.lang == lang, (o.lang, o.units)


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ("документы на конкурс не приняли, почему могут отказать?", "grant.refusal"),
        ("конкурсқа құжаттарды қай айда қабылдайды", "grant.application_period"),
    ],
)
async def test_the_competition_is_the_grant(citizen: Citizen, text: str, unit: str) -> None:
    o = await citizen.says(text)
    assert o.units and o.units[0].startswith(unit), (o.intent, o.units)


async def test_what_else_to_bring_when_collecting_for_someone_is_the_receipt(
    citizen: Citizen,
) -> None:
    await citizen.says("сын в армии, дубликат его диплома уже готов в ЦОНе. я мама, мне отдадут?")
    o = await citizen.says("кроме доверенности что еще с собой взять?")
    assert o.units[:1] == ["duplicate.pickup.receipt"], (o.intent, o.units)


async def test_at_the_portal_an_id_copy_is_not_uploaded(citizen: Citizen) -> None:
    await citizen.says("дубликат через егов оформляю, какие файлы туда загружать?")
    o = await citizen.says("и копию удостоверения личности тоже прикрепить?")
    assert o.units[:1] == ["duplicate.portal.only_application"], (o.intent, o.units)


@pytest.mark.parametrize(
    "text",
    [
        "сәрсенбіге ХҚО-ға жазылып едім, соны алып тастаңызшы",
        "записался в цон на завтра, уберите эту запись",
    ],
)
async def test_a_booking_told_then_removed_is_a_cancellation(citizen: Citizen, text: str) -> None:
    o = await citizen.says(text)
    assert o.intent == "cancel_booking", (o.intent, o.units)


async def test_there_is_the_office_just_named(citizen: Citizen) -> None:
    await citizen.says("ХҚО-да телнұсқаға өтініш қабылдай ма?")
    o = await citizen.says("ол жерге қандай құжаттар керек")
    assert o.units[:1] == ["duplicate.documents.psc"], (o.intent, o.units)


async def test_the_conversation_stays_at_the_university_office(citizen: Citizen) -> None:
    o = await citizen.says("какие документы сдавать в канцелярию вуза на дубликат?")
    assert o.units[:1] == ["duplicate.documents.provider"], (o.intent, o.units)
    await citizen.says("а удостоверение в оригинале показывать надо?")
    o = await citizen.says("расписку какую-нибудь выдадут, что приняли?")
    assert o.units[:1] == ["duplicate.receipt.provider"], (o.intent, o.units)


@pytest.mark.parametrize(
    ("first", "then", "unit"),
    [
        # Sent through the portal: the standard gives no receipt, the status tells.
        (
            "телнұсқаға өтінішті электрондық үкімет арқылы жібердім",
            "маған ешқандай қолхат келмеді ғой",
            "duplicate.receipt.portal",
        ),
        # Handed in at the university: the university's receipt.
        (
            "сдала заявление на дубликат в канцелярию университета",
            "мне там ничего не дали, расписка вообще положена?",
            "duplicate.receipt.provider",
        ),
        # Grants: the grant's receipt, not the university's list of documents.
        (
            "грант туралы сұрағым бар",
            "qyzym grantqa qujattaryn universitetke ótkizedi, olar qolhat beredi me",
            "grant.documents.receipt",
        ),
    ],
)
async def test_the_receipt_is_the_one_of_the_office_used(
    citizen: Citizen, first: str, then: str, unit: str
) -> None:
    await citizen.says(first)
    o = await citizen.says(then)
    assert o.units[:1] == [unit], (o.intent, o.units)


async def test_the_receipt_to_bring_when_collecting_stays_the_pickup_receipt(
    citizen: Citizen,
) -> None:
    await citizen.says("телнұсқа ХҚО-да дайын болды деп хабарлама келді")
    o = await citizen.says("алуға барғанда қолхатты өзіммен ала барамын ба")
    assert o.units[:1] == ["duplicate.pickup.receipt"], (o.intent, o.units)


@pytest.mark.parametrize(
    ("first", "then"),
    [
        # Read as a "no" without the conversation: it asks where to go next.
        ("жалобу на вуз по дубликату сколько дней рассматривают?", "если я не соглашусь?"),
    ],
)
async def test_not_agreeing_with_the_answer_is_the_appeal(
    citizen: Citizen, first: str, then: str
) -> None:
    await citizen.says(first)
    o = await citizen.says(then)
    assert o.units[:1] == ["duplicate.complaint.appeal"], (o.intent, o.units)


async def test_when_to_bring_the_grant_documents_is_the_application_period(
    citizen: Citizen,
) -> None:
    await citizen.says("сын на грант поступает")
    o = await citizen.says("а документы когда нести?")
    assert o.units[:1] == ["grant.application_period.dates"], (o.intent, o.units)


async def test_after_yes_at_the_psc_there_is_the_psc(citizen: Citizen) -> None:
    # The first message names ЦОН and the university; the answer is ЦОН's.
    await citizen.says("в цон можно сдать на дубликат или только в вуз?")
    o = await citizen.says("какие бумаги туда")
    assert o.units[:1] == ["duplicate.documents.psc"], (o.intent, o.units)


@pytest.mark.parametrize(
    ("said", "unit"),
    [
        ("нужен дубликат диплома, подскажите адрес цона", "duplicate.contacts.addresses"),
        ("по какому нормативному акту проводят прием на гранты", "grant.legal_basis"),
        # Read as the documents to bring (0.87); the words ask what a winner gets.
        ("ұлым грант ұтып алса, қолына қандай қағаз береді", "grant.result"),
    ],
)
async def test_plain_words_of_another_answer_outweigh_an_unsure_topic(
    citizen: Citizen, said: str, unit: str
) -> None:
    o = await citizen.says(said)
    assert o.units[:1] == [unit], (o.intent, o.units)


async def test_until_when_during_social_support_is_its_application_period(
    citizen: Citizen,
) -> None:
    # Read as how long it takes (0.63); the words ask until when to apply.
    await citizen.says("studentterge aleumettik komek kimge beriledi")
    o = await citizen.says("qai merzimge deiin tapsyru kerek")
    assert o.units[:1] == ["social_support.application_period"], (o.intent, o.units)


@pytest.mark.parametrize(
    ("first", "then", "lang"),
    [
        (
            "хочу обжаловать решение по гранту, куда писать жалобу",
            "за сколько ее рассмотрят?",
            "ru",
        ),
        ("грант бойынша шағым түсіргім келеді", "қанша уақытта қарайды", "kk"),
    ],
)
async def test_how_long_after_a_grant_complaint_is_the_complaint_term(
    citizen: Citizen, first: str, then: str, lang: str
) -> None:
    await citizen.says(first)
    o = await citizen.says(then)
    # The order sets no complaint term for grants: said, not the grant's 15 August.
    assert o.units[:1] == ["grant.complaint.terms"], (o.intent, o.units)
    assert o.lang == lang and "15" not in o.replies[0].text


async def test_the_identity_card_while_collecting_is_the_pickup_fact(citizen: Citizen) -> None:
    await citizen.says("пришло уведомление что дубликат готов, пойду забирать в цон")
    o = await citizen.says("удостоверение личности с собой нужно?")
    assert o.units[:1] == ["duplicate.pickup.identity"], (o.intent, o.units)


async def test_the_identity_card_to_apply_stays_the_documents_fact(citizen: Citizen) -> None:
    o = await citizen.says("телнұсқаға өтініш бергенде жеке куәліктің көшірмесі керек пе")
    assert o.units[:1] == ["duplicate.documents.identity"], (o.intent, o.units)


@pytest.mark.parametrize(
    ("first", "then", "unit", "office"),
    [
        (
            "хочу подать на дубликат диплома через портал",
            "но у меня нет эцп",
            "duplicate.eds.portal_condition",
            "ЦОН",
        ),
        (
            "grantqa portal arqyly tapsyrmaqpyn",
            "ecp jok menda",
            "grant.eds.without_eds",
            "ЖОО",
        ),
    ],
)
async def test_without_an_eds_the_answer_is_the_way_without_one(
    citizen: Citizen, first: str, then: str, unit: str, office: str
) -> None:
    await citizen.says(first)
    o = await citizen.says(then)
    assert o.units[:1] == [unit], (o.intent, o.units)
    assert office in o.replies[0].text


async def test_collecting_as_a_relative_is_the_representative(citizen: Citizen) -> None:
    await citizen.says("анамның дипломының телнұсқасы дайын болды")
    o = await citizen.says("қызы ретінде мен барып алсам бола ма")
    assert o.units[:1] and o.units[0].startswith("duplicate.representative"), (o.intent, o.units)


async def test_being_told_the_duplicate_is_ready_is_the_notice(citizen: Citizen) -> None:
    await citizen.says("подала заявление на дубликат через портал")
    o = await citizen.says("а мне как-то сообщат, когда он будет готов?")
    assert o.units[:1] == ["duplicate.result.ready_notification"], (o.intent, o.units)
    assert "уведомление" in o.replies[0].text


async def test_the_archive_address_is_the_closed_university_answer(citizen: Citizen) -> None:
    await citizen.says("біз оқыған институт әлдеқашан жабылған")
    o = await citizen.says("сол мұрағаттың мекенжайы қайда екенін айта аласыз ба")
    assert o.units[:1] == ["duplicate.university_closed"], (o.intent, o.units)
    assert "мекенжай" in o.replies[0].text  # the order gives none: said


@pytest.mark.parametrize(
    ("first", "then"),
    [
        (
            "вуз не отвечает на мое заявление на дубликат, хочу подать жалобу",
            "я заявление подавала через egov, где мне следить за жалобой?",
        ),
        ("телнұсқа бойынша ЖОО-ға шағым жазбақпын", "порталдан берсем, оның жайын қайдан көремін"),
    ],
)
async def test_a_complaint_through_the_portal_is_followed_in_the_cabinet(
    citizen: Citizen, first: str, then: str
) -> None:
    await citizen.says(first)
    o = await citizen.says(then)
    assert o.units[:1] == ["duplicate.complaint.portal_cabinet"], (o.intent, o.units)


@pytest.mark.parametrize(
    "said",
    [
        "дубликат в цоне с весны лежит, я забыла его забрать. его еще выдадут?",
        "telnusqam HQO-da dain bolgan, biraq alyp ketudi umytyp ketippin, ali sonda ma",
    ],
)
async def test_a_duplicate_left_at_the_psc_is_how_long_it_is_kept(
    citizen: Citizen, said: str
) -> None:
    o = await citizen.says(said)
    assert o.units[:1] == ["duplicate.pickup.storage"], (o.intent, o.units)
    assert "3" in o.replies[0].text


async def test_the_representative_who_applied_may_collect_with_a_power_of_attorney(
    citizen: Citizen,
) -> None:
    await citizen.says(
        "ағам шетелде, оның дипломының телнұсқасына мен оның атынан тапсырсам бола ма"
    )
    o = await citizen.says("дайын болса оны да мен алсам бола ма")
    assert o.units[:1] == ["duplicate.representative.power_of_attorney"], (o.intent, o.units)


@pytest.mark.parametrize(
    ("first", "then"),
    [
        ("на грант какие документы собирать", "а через цон их можно сдать? он ближе"),
        ("грант конкурсына құжат жинап жүрміз", "хқо-ға апарып берсек бола ма, үйге жақын"),
    ],
)
async def test_the_psc_asked_of_during_grants_is_not_in_their_standard(
    citizen: Citizen, first: str, then: str
) -> None:
    # The office alone used to settle the service as the duplicate (ЦОН
    # serves only it), answering with the duplicate's documents at ЦОН.
    await citizen.says(first)
    o = await citizen.says(then)
    assert o.units[:1] == ["grant.where_to_apply.psc"], (o.intent, o.units)


async def test_the_psc_asked_of_during_duplicates_is_still_the_duplicates(
    citizen: Citizen,
) -> None:
    await citizen.says("дипломның телнұсқасына қандай құжат керек")
    o = await citizen.says("хқо-ға өткізсек қабылдай ма")
    assert o.units[:1] and o.units[0].startswith("duplicate."), (o.intent, o.units)


@pytest.mark.parametrize(
    ("first", "then", "unit"),
    [
        (
            "студенттерге әлеуметтік қолдауға кімдер жатады",
            "қай күнге дейін өткізіп үлгеремін",
            "social_support.application_period",
        ),
        (
            "какие документы на соцподдержку студентам",
            "а до какого числа их подают?",
            "social_support.application_period",
        ),
        (
            "грантқа түсу үшін не керек",
            "құжаттарды университетке қай күндері апарамыз",
            "grant.application_period.dates",
        ),
    ],
)
async def test_until_when_applications_are_taken_is_the_application_period(
    citizen: Citizen, first: str, then: str, unit: str
) -> None:
    await citizen.says(first)
    o = await citizen.says(then)
    assert o.units[:1] == [unit], (o.intent, o.units)


@pytest.mark.parametrize(
    ("first", "then", "unit"),
    [
        ("грантқа портал арқылы тапсырамыз", "эцпсіз болмай ма", "grant.eds.without_eds"),
        (
            "dublikatqa egov arqyly tapsyrsam bola ma",
            "esq siz bolmaidy ma",
            "duplicate.eds.portal_condition",
        ),
    ],
)
async def test_the_eds_word_with_without_on_it_is_the_way_without_one(
    citizen: Citizen, first: str, then: str, unit: str
) -> None:
    await citizen.says(first)
    o = await citizen.says(then)
    assert o.units[:1] == [unit], (o.intent, o.units)


async def test_having_an_eds_after_all_and_filling_the_form_opens_it(citizen: Citizen) -> None:
    await citizen.says("менде эцп жоқ сияқты, онда қалай тапсырамын дубликатқа")
    o = await citizen.says("а жоқ, эцп бар екен, дубликатқа өтінішті толтырып берейін")
    assert o.intent == "submit_application", (o.intent, o.units)


async def test_how_to_fill_the_form_is_still_a_question(citizen: Citizen) -> None:
    o = await citizen.says("телнұсқаға өтінішті қалай толтырайын")
    assert o.intent != "submit_application", (o.intent, o.units)


async def test_the_old_name_of_the_psc_is_the_psc(citizen: Citizen) -> None:
    # "ХҚКО" (its older name, "HQKO" in Latin letters) was not read as ЦОН.
    await citizen.says("diplom dublikatyn HQKO arqyly tapsyrdym")
    o = await citizen.says("dayin bolganda qaidan alamyn")
    assert o.units[:1] == ["duplicate.pickup.psc"], (o.intent, o.units)


async def test_a_duplicate_that_slipped_the_mind_is_how_long_it_is_kept(
    citizen: Citizen,
) -> None:
    o = await citizen.says(
        "көктемде цонға дубликатқа тапсырғам, барып алу есімнен шығып кетіпті, енді ол қайда"
    )
    assert o.units[:1] == ["duplicate.pickup.storage"], (o.intent, o.units)


@pytest.mark.parametrize(
    ("first", "then"),
    [
        (
            "цондағылар телнұсқаға құжатымды қабылдамады, шағым түсірмекпін",
            "кімнің атына жазу керек",
        ),
        ("вуз тянет с дубликатом, буду жаловаться", "а кому её писать, на имя ректора?"),
    ],
)
async def test_whom_a_complaint_is_addressed_to_after_a_complaint(
    citizen: Citizen, first: str, then: str
) -> None:
    # No form named: the complaint's addressee, not the application's.
    await citizen.says(first)
    o = await citizen.says(then)
    assert o.units[:1] == ["duplicate.complaint.whom"], (o.intent, o.units)


async def test_whom_an_application_is_addressed_to_stays_the_forms(citizen: Citizen) -> None:
    await citizen.says("вуз тянет с дубликатом, буду жаловаться")
    o = await citizen.says("а заявление на дубликат на чьё имя пишется?")
    assert o.units[:1] != ["duplicate.complaint.whom"], (o.intent, o.units)


async def test_a_story_of_applying_that_asks_what_to_upload_is_answered(citizen: Citizen) -> None:
    o = await citizen.says(
        "qyzym basqa qalada oqidy, men ozim egov arqyly onyn grantqa otinishin "
        "tapsyryp bergim keledi, sonda ne tirkeimiz"
    )
    assert o.units[:1] == ["grant.documents.portal"], (o.intent, o.units)


async def test_my_records_shown_are_my_bookings(citizen: Citizen) -> None:
    o = await citizen.says("жазбаларымды көрсетіңізші")
    assert o.intent == "my_bookings", (o.intent, o.units)


async def test_where_higher_after_a_complaint_is_not_whom_it_is_addressed_to(
    citizen: Citizen,
) -> None:
    await citizen.says("вуз тянет с дубликатом, буду жаловаться")
    o = await citizen.says("а если вуз ответит не по делу, кому выше писать?")
    assert o.units[:1] == ["duplicate.complaint.appeal"], (o.intent, o.units)


async def test_when_grant_applications_are_taken_told_in_a_story(citizen: Citizen) -> None:
    o = await citizen.says(
        "сәлеметсіз бе, жиенім ҰБТ-дан жақсы балл алды, грантқа өтінішті қай кезде қабылдай бастайды"
    )
    assert o.units[:1] == ["grant.application_period.dates"], (o.intent, o.units)
