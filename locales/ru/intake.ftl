## Applications (intake): the Appendix 1 form for a duplicate, status, staff.

## Start and consent

intake-intro = Заполним заявление на выдачу дубликата документа о высшем или послевузовском образовании — по форме приложения 1 к стандарту услуги. Всего вопросов: { $steps }. Заявление — это запрос сотрудникам: они проверят данные и свяжутся с вами. На любом шаге можно вернуться назад или отменить заявление.
intake-consent = Для заявления нужны ваши персональные данные: ФИО, ИИН, телефон и сведения об образовании. Они используются только для этого заявления и видны лишь сотрудникам, которые его обрабатывают; удалить их можно командой /forget. Согласны на сбор и обработку персональных данных?
intake-btn-consent-yes = Согласен(на)
intake-btn-consent-no = Не согласен(на)
intake-btn-grant = Мне нужен грант или соцподдержка
intake-consent-thanks = Спасибо. Начнём.
intake-no-consent = Хорошо, я ничего не сохранил. Подать заявление можно и без меня — лично или через портал:
intake-resumed = Продолжим заполнение заявления.
intake-cancelled = Заявление отменено, введённые данные удалены.
intake-form-closed = Эта форма уже закрыта. Можно проверить статус заявлений или начать новое.
intake-grant-elsewhere = Заявление на образовательный грант или социальную поддержку я не оформляю: его подают в вузе или на портале egov.kz. Вот что говорит стандарт:

## Questions

intake-step = Вопрос { $n } из { $total }.
intake-ask-university_head_name = Напишите полностью фамилию, имя и отчество (при наличии) руководителя вуза (ректора), на имя которого подаётся заявление.
intake-ask-specialty = По какой специальности вы окончили вуз?
intake-ask-university = Напишите полное наименование вуза, который вы окончили.
intake-ask-graduation_year = В каком году вы окончили вуз? Четыре цифры, например 2012.
intake-ask-applicant_name = Напишите полностью ваши фамилию, имя и отчество (при наличии).
intake-ask-iin = Напишите ваш ИИН — 12 цифр.
intake-ask-phone = Номер телефона для связи: +7 и 10 цифр (или 8 и 10 цифр).
intake-ask-university_new = Если наименование или адрес вуза изменились, напишите новое наименование и адрес. Если нет — нажмите «Пропустить».
intake-ask-reason = Причина выдачи дубликата:
intake-ask-requested = Что нужно выдать?
intake-ask-channel = Где вы подадите заявление и получите документ?
intake-current = Сейчас: { $value }

## Buttons

intake-btn-skip = Пропустить
intake-btn-keep = Оставить как есть
intake-btn-summary = К заявлению
intake-btn-back = ← Назад
intake-btn-cancel = Отменить
intake-btn-confirm = ✅ Подтвердить
intake-btn-edit = ✏️ Исправить
intake-btn-start = Подать заявление на дубликат
intake-btn-duplicate = Заявление на дубликат диплома
intake-btn-resume = Продолжить заявление
intake-btn-lookup = Проверить по номеру

## Summary

intake-summary-title = Проверьте заявление:
intake-summary-line = { $label }: { $value }
intake-summary-question = Всё верно? Нажмите «Подтвердить», чтобы отправить заявление сотрудникам.
intake-db-down = Не удалось отправить заявление: сервис временно недоступен. Ничего не отправлено, а заполненные данные сохранены. Попробуйте ещё раз через минуту — нажмите «Подтвердить».
intake-edit-which = Что исправить?
intake-field-university_head_name = Руководитель вуза
intake-field-specialty = Специальность
intake-field-university = Вуз
intake-field-graduation_year = Год окончания
intake-field-applicant_name = ФИО заявителя
intake-field-iin = ИИН
intake-field-phone = Телефон
intake-field-university_new = Новое наименование и адрес вуза
intake-field-reason = Причина
intake-field-requested = Что выдать
intake-field-channel = Где подать и получить

## Input checks

intake-err-use-buttons = Пожалуйста, выберите вариант кнопкой ниже.
intake-err-pick = Не понял выбор. Нажмите одну из кнопок или напишите номер варианта.
intake-err-empty = Пустой ответ. Напишите, пожалуйста, значение.
intake-err-too-long = Слишком длинный текст ({ $length } символов), допускается до { $limit }. Я его не сохранил — напишите, пожалуйста, короче.
intake-err-no-letters = В ответе должны быть буквы. Напишите, пожалуйста, ещё раз.
intake-err-name-digits = В ФИО не должно быть цифр. Напишите фамилию, имя и отчество буквами.
intake-err-name-chars = В ФИО допустимы только буквы, пробелы, дефис и апостроф.
intake-err-name-short = Напишите ФИО полностью: хотя бы фамилию и имя.
intake-err-year-format = Год — это четыре цифры, например 2012.
intake-err-year-future = Этот год ещё не наступил: год окончания — не позже { $year }.
intake-err-year-too-early = Год окончания не может быть раньше { $year }. Проверьте, пожалуйста.
intake-err-iin-digits = ИИН состоит только из цифр — без букв и других знаков.
intake-err-iin-length = В ИИН ровно 12 цифр. Проверьте, пожалуйста.
intake-err-iin-date = Первые шесть цифр ИИН — дата рождения (ГГММДД), седьмая — цифра от 1 до 6. В этом номере они не сходятся; проверьте, пожалуйста.
intake-err-iin-checksum = Похоже, в ИИН опечатка: не сходится контрольная цифра. Проверьте, пожалуйста.
intake-err-phone-format = Напишите номер в виде +7 777 123 45 67 или 8 777 123 45 67: код страны и 10 цифр.

# Typed words the form understands (comma-separated; compared after folding).
intake-words-cancel = отмена, отменить, отмени, стоп, выход, cancel
intake-words-back = назад, вернуться, back
intake-words-skip = пропустить, пропуск, нет, не менялось, не изменилось, skip
intake-words-yes = да, согласен, согласна, ок, хорошо, yes
intake-words-no = нет, не согласен, не согласна, no

## Confirmation

intake-done = Заявление № { $number } зарегистрировано, статус — «{ $status }». Это запрос сотрудникам: они проверят данные и свяжутся с вами по телефону { $phone }. Место подачи и получения: { $channel }. Ориентировочный срок выдачи дубликата — до { $due } (30 календарных дней со дня приёма документов).
intake-bring = Какие документы понадобятся:
intake-done-status = Номер заявления пригодится, чтобы проверить статус: кнопка «Статус заявления» или команда /status. Когда статус изменится, я напишу.
intake-pdf-caption = Заявление № { $number } по форме приложения 1 — его можно распечатать и подписать.

## Status

intake-status-title = Ваши заявления:
intake-status-line =
    № { $number } — { $requested }
    Статус: { $status }
    Подано: { $created }; срок: до { $due }
intake-status-place = Место получения: { $place }
intake-status-reason = Причина отказа: { $reason }
intake-status-none = Заявлений, поданных из этого чата, нет. { $service ->
        [duplicate] Если заявление подано в вузе, ЦОН или на портале:
       *[other] Если заявление подано в вузе или на портале:
    }
intake-form-open = У вас есть незаконченное заявление — его можно продолжить.
intake-status-received = принято
intake-status-in_review = на рассмотрении
intake-status-ready = готово к выдаче
intake-status-issued = выдано
intake-status-rejected = отказано
intake-lookup-ask-number = Напишите номер заявления, например DUP-2026-00001.
intake-lookup-bad-number = Не вижу номера заявления в сообщении.
intake-lookup-ask-iin = Чтобы показать статус заявления, поданного не из этого чата, напишите ИИН заявителя.
intake-lookup-not-found = Заявление с таким номером и ИИН не найдено.
intake-lookup-too-many = Заявление не найдено. Проверьте номер и ИИН или нажмите «Связаться с оператором». Можно также позвонить в Единый контакт-центр 1414 (8 800 080 7777, бесплатно).
intake-lookup-cancelled = Хорошо, проверку по номеру отменил.

## Notifications (outbox)

intake-notify-received = Заявление № { $number } принято. Срок: до { $due }.
intake-notify-in_review = Заявление № { $number } взято в работу, сотрудники его рассматривают. Ориентировочный срок: до { $due }.
intake-notify-ready = Дубликат по заявлению № { $number } готов. Место получения: { $place }.
intake-notify-issued = Дубликат по заявлению № { $number } выдан. Спасибо за обращение!
intake-notify-rejected = По заявлению № { $number } отказано. Причина: { $reason }. Если вы не согласны, решение можно обжаловать — спросите меня, как подать жалобу.

## The PDF (Appendix 1)

intake-pdf-number = Заявление № { $number }
intake-pdf-appendix = Приложение 1 к стандарту государственной услуги «{ $standard }»
intake-pdf-contacts = тел. { $phone }, ИИН { $iin }
intake-pdf-body = Прошу выдать мне { $requested } по причине: { $reason }.
intake-pdf-date = «{ $day }» { $month } { $year } г.
intake-pdf-footer = Заполнено помощником контакт-центра 1414 по данным, которые ввёл заявитель. Подпись ставит заявитель.
intake-month-1 = января
intake-month-2 = февраля
intake-month-3 = марта
intake-month-4 = апреля
intake-month-5 = мая
intake-month-6 = июня
intake-month-7 = июля
intake-month-8 = августа
intake-month-9 = сентября
intake-month-10 = октября
intake-month-11 = ноября
intake-month-12 = декабря

## Staff chat

intake-reason-lost = утеря
intake-reason-name_change = смена ФИО
intake-reason-unusable = непригодность
intake-reason-filling_errors = ошибки при заполнении
intake-requested-diploma = дубликат диплома
intake-requested-diploma_with_appendix = дубликат диплома с приложением
intake-requested-appendix = дубликат приложения
staff-app-new = Новое заявление { $number }: дубликат, { $channel }, срок до { $due }. Подробнее: /app { $number }
staff-app-card =
    Заявление { $number } — { $status }
    Услуга: { $service }; подача и получение: { $channel }; язык заявителя: { $citizen_lang }
    Подано: { $created }; срок: до { $due }
    Заявитель: { $applicant }; ИИН: { $iin }; тел.: { $phone }
    Вуз: { $university }, { $year }; специальность: { $specialty }
    Руководитель вуза: { $head }
    Новое наименование и адрес вуза: { $university_new }
    Причина: { $reason }; выдать: { $requested }
    Место получения: { $place }; причина отказа: { $reject_reason }
    Что сделать: связаться с заявителем по телефону и подтвердить данные; статус: /setstatus { $number } in_review
staff-app-usage =
    Команды:
    /app НОМЕР — показать заявление
    /apps [СТАТУС] — открытые заявления или заявления в статусе
    /setstatus НОМЕР СТАТУС [место | причина]
    Статусы: received, in_review, ready (нужно место получения), issued, rejected (нужна причина).
staff-app-not-found = Заявление { $number } не найдено.
staff-app-changed = { $number }: { $old } → { $new }. Заявитель получит уведомление.
staff-app-changed-silent = { $number }: { $old } → { $new }. Заявитель удалил свои данные — уведомлять некого.
staff-app-err-not-allowed = { $number }: из статуса «{ $current }» нельзя перейти в «{ $target }». Можно: { $allowed }.
staff-app-err-unknown-status = Неизвестный статус «{ $target }». Статусы: received, in_review, ready, issued, rejected.
staff-app-err-place-required = Для статуса ready укажите место получения: /setstatus { $number } ready АДРЕС
staff-app-err-reason-required = Для статуса rejected укажите причину: /setstatus { $number } rejected ПРИЧИНА
staff-app-err-concurrent = Статус { $number } только что изменил кто-то другой. Посмотрите /app { $number } и повторите.
staff-app-list-title = Заявления ({ $status }):
staff-app-list-open = открытые
staff-app-list-line = { $number } — { $status }, срок до { $due }, { $channel }
staff-app-list-empty = Заявлений нет.
staff-app-allowed-none = ничего, статус окончательный
intake-lookup-locked = Проверка статуса по номеру сейчас недоступна: было несколько неверных попыток. Попробуйте через несколько часов или нажмите «Связаться с оператором». Можно также позвонить в Единый контакт-центр 1414 (8 800 080 7777, бесплатно). Заявления, поданные из этого чата, видны по кнопке «Статус заявления».
