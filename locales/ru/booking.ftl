## Booking a slot in the electronic queue (actions/booking)

bk-sample = (үлгі / образец)
bk-sample-note = Места и адреса с пометкой «образец» приведены для примера: в приказе адресов нет. Перед визитом уточните адрес у оператора (/operator) или по номеру 1414.

bk-wd-0 = пн
bk-wd-1 = вт
bk-wd-2 = ср
bk-wd-3 = чт
bk-wd-4 = пт
bk-wd-5 = сб
bk-wd-6 = вс
bk-date = { $date } ({ $weekday })
bk-when = { $day }, { $time }
bk-days = { $n } { $n ->
    [one] день
    [few] дня
   *[many] дней
}
bk-hours = { $n } { $n ->
    [one] час
    [few] часа
   *[many] часов
}
bk-minutes = { $n } { $n ->
    [one] минуту
    [few] минуты
   *[many] минут
}
bk-and = и
bk-part-morning = до обеда
bk-part-afternoon = после обеда

## Steps

bk-ask-service = На какую услугу записаться в очередь?
bk-ask-city = Выберите город:
bk-ask-office = Где вам удобно? Город { $city }:
bk-ask-day =
    { $office }, { $address }.
    Выберите день (показаны дни со свободным временем):
bk-only-part = Показано только время { $part }.
bk-ask-time = { $office }: свободное время на { $date }:
bk-confirm =
    Проверьте запись:
    Услуга: { $service }
    Место: { $office }, { $address }
    Дата и время: { $when }
    Подтвердить?
bk-resched-note = Перенос записи { $code }.

## Buttons

bk-btn-back = ◀ Назад
bk-btn-stop = ✖ Не записываться
bk-btn-confirm = ✅ Подтвердить
bk-btn-earlier = ◀ Раньше
bk-btn-later = Позже ▶
bk-btn-morning = До обеда
bk-btn-afternoon = После обеда
bk-btn-any-time = Любое время
bk-btn-my = Мои записи
bk-btn-new = Новая запись
bk-btn-reschedule = Перенести { $code }
bk-btn-cancel-booking = Отменить { $code }
bk-btn-yes-cancel = Да, отменить
bk-btn-keep = Нет, оставить
bk-btn-book-duplicate = Записаться на дубликат диплома

## Outcomes

bk-ticket =
    ✅ Вы записаны в электронную очередь.
    Талон: { $code }
    Услуга: { $service }
    Место: { $office }, { $address }
    Дата и время: { $when }
    При визите назовите номер талона.
bk-ticket-moved =
    ✅ Запись перенесена.
    Новый талон: { $code }
    Услуга: { $service }
    Место: { $office }, { $address }
    Дата и время: { $when }
    При визите назовите номер талона.
bk-ticket-again = Эта запись уже оформлена:
bk-bring = Что взять с собой:
bk-reminders-note = Напомню о визите за { $offsets } до него.
bk-live-queue = Записаться заранее можно только на дубликат диплома.
bk-already =
    У вас уже есть запись на эту услугу:
    { $line }
    На одну услугу может быть только одна запись: перенесите или отмените её.
bk-line = • { $code }: { $when } — { $office }, { $address }
bk-my-title = Ваши записи:
bk-my-none = У вас нет предстоящих записей.
bk-cancel-ask =
    Отменить запись?
    { $line }
bk-cancelled = Запись { $code } отменена, напоминаний по ней не будет.
bk-cancel-missing = Активной записи { $code } нет: возможно, она уже отменена или её время прошло.
bk-resched-which = Чтобы перенести запись, нажмите «Перенести» под ней.
bk-resched-start = Перенос записи { $code }: выберите новое время. Пока вы не подтвердите, старая запись остаётся в силе.
bk-resched-missing = Записи { $code } нет среди предстоящих: перенести её нельзя.
bk-stopped = Хорошо, запись не оформлена.

## Answers to unexpected input

bk-day-past = { $date } — этот день уже прошёл.
bk-day-beyond = Записаться можно не более чем на { $days } { $days ->
    [one] день
    [few] дня
   *[many] дней
} вперёд — до { $last }.
bk-day-holiday = { $date } — праздничный день ({ $holiday }), приёма нет.
bk-day-day-off = { $date } — выходной, приёма нет.
bk-day-over = На { $date } записаться уже нельзя: приём в этот день закончился или вот-вот закончится.
bk-day-full = На { $date } свободного времени нет.
bk-day-full-part = На { $date } { $part } свободного времени нет.
bk-no-days = В ближайшие { $days } { $days ->
    [one] день
    [few] дня
   *[many] дней
} свободного времени нет ({ $office }). Выберите другое место.
bk-time-not-free = Время { $time } в этот день занято или недоступно.
bk-slot-taken = Время { $time } только что заняли. Выберите другое:
bk-time-passed = На { $time } записаться уже нельзя. Выберите другое время:
bk-use-buttons = Не понял ответ. Выберите вариант кнопкой или напишите, например: «завтра», «10.12», «15:00», «после обеда».
bk-use-buttons-choice = Не понял ответ. Выберите вариант кнопкой или напишите его название или номер.
bk-no-personal = Для записи не нужны ИИН, телефон или ФИО: запись хранит только ваш Telegram ID. Пожалуйста, не присылайте персональные данные.
bk-stale = Эта кнопка относится к прошлой записи. Начнём заново.
bk-expired-confirm = Это подтверждение устарело, запись по нему не оформлена.
bk-db-down = Не удалось подтвердить запись: сервис временно недоступен. Время за вами пока не закреплено, но ваш выбор сохранён. Попробуйте ещё раз через минуту — нажмите «Подтвердить».

## Reminders (bot/reminders.py)

bk-reminder =
    🔔 Напоминание: вы записаны в электронную очередь.
    Дата и время: { $when }
    Место: { $office }, { $address }
    Талон: { $code }

## Staff: /day (bot/handlers/booking_staff.py)

bk-staff-title = Записи на { $date } — { $office } ({ $office_id }):
bk-staff-line = { $time } · окно { $window } · { $code } · { $service }
bk-staff-none = Записей нет.
bk-staff-total = Всего записей: { $count }.
bk-staff-usage = Формат: /day [офис] [дата], например «/day ast-psc1 завтра». Офисы: { $offices }
bk-staff-unknown-office = Нет офиса «{ $office }».
bk-staff-bad-date = Не понял дату «{ $date }». Пример: 14.12 или «завтра».
bk-staff-csv = Список на { $date } (CSV)
