## Электрондық кезекке жазылу (actions/booking)

bk-sample = (үлгі / образец)
bk-sample-note = «Үлгі» деп белгіленген орындар мен мекенжайлар — мысал: бұйрықта мекенжайлар жоқ. Барар алдында мекенжайды 1414 нөмірі арқылы нақтылаңыз.

bk-wd-0 = дс
bk-wd-1 = сс
bk-wd-2 = ср
bk-wd-3 = бс
bk-wd-4 = жм
bk-wd-5 = сб
bk-wd-6 = жс
bk-date = { $date } ({ $weekday })
bk-when = { $day }, { $time }
bk-days = { $n } күн
bk-hours = { $n } сағат
bk-minutes = { $n } минут
bk-and = және
bk-part-morning = түске дейін
bk-part-afternoon = түстен кейін

## Қадамдар

bk-ask-service = Қай қызмет бойынша кезекке жазыласыз?
bk-ask-city = Қаланы таңдаңыз:
bk-ask-office = Қай жер ыңғайлы? { $city } қаласы:
bk-ask-day =
    { $office }, { $address }.
    Күнді таңдаңыз (бос уақыты бар күндер көрсетілген):
bk-only-part = Көрсетілген уақыт: { $part }.
bk-ask-time = { $office }: { $date } — бос уақыт:
bk-confirm =
    Жазылуды тексеріңіз:
    Қызмет: { $service }
    Орын: { $office }, { $address }
    Күні мен уақыты: { $when }
    Растайсыз ба?
bk-resched-note = { $code } жазылуын ауыстыру.

## Батырмалар

bk-btn-back = ◀ Артқа
bk-btn-stop = ✖ Жазылмау
bk-btn-confirm = ✅ Растау
bk-btn-earlier = ◀ Ертерек
bk-btn-later = Кейінірек ▶
bk-btn-morning = Түске дейін
bk-btn-afternoon = Түстен кейін
bk-btn-any-time = Кез келген уақыт
bk-btn-my = Менің жазылуларым
bk-btn-new = Жаңа жазылу
bk-btn-reschedule = { $code } ауыстыру
bk-btn-cancel-booking = { $code } болдырмау
bk-btn-yes-cancel = Иә, болдырмау
bk-btn-keep = Жоқ, қалдыру
bk-btn-book-duplicate = Дипломның телнұсқасына жазылу

## Нәтижелер

bk-ticket =
    ✅ Сіз электрондық кезекке жазылдыңыз.
    Талон: { $code }
    Қызмет: { $service }
    Орын: { $office }, { $address }
    Күні мен уақыты: { $when }
    Келгенде талон нөмірін айтыңыз.
bk-ticket-moved =
    ✅ Жазылу ауыстырылды.
    Жаңа талон: { $code }
    Қызмет: { $service }
    Орын: { $office }, { $address }
    Күні мен уақыты: { $when }
    Келгенде талон нөмірін айтыңыз.
bk-ticket-again = Бұл жазылу рәсімделіп қойған:
bk-bring = Өзіңізбен бірге алып келіңіз:
bk-reminders-note = Келуіңізге { $offsets } қалғанда еске саламын.
bk-live-queue = Алдын ала тек дипломның телнұсқасына жазылуға болады. «{ $service }» қызметі тірі кезек тәртібімен көрсетіледі:
bk-already =
    Бұл қызметке жазылуыңыз бар:
    { $line }
    Бір қызметке бір ғана жазылу болады: оны ауыстырыңыз немесе болдырмаңыз.
bk-line = • { $code }: { $when } — { $office }, { $address }
bk-my-title = Сіздің жазылуларыңыз:
bk-my-none = Алдағы жазылуларыңыз жоқ.
bk-cancel-ask =
    Жазылуды болдырмайсыз ба?
    { $line }
bk-cancelled = { $code } жазылуынан бас тартылды, ол бойынша еске салу болмайды.
bk-cancel-missing = { $code } белсенді жазылуы жоқ: мүмкін, одан бас тартылған немесе уақыты өтіп кеткен.
bk-resched-which = Жазылуды ауыстыру үшін оның астындағы «Ауыстыру» батырмасын басыңыз.
bk-resched-start = { $code } жазылуын ауыстыру: жаңа уақытты таңдаңыз. Растағанша ескі жазылу күшінде қалады.
bk-resched-missing = { $code } жазылуы алдағы жазылулар арасында жоқ: оны ауыстыру мүмкін емес.
bk-stopped = Жарайды, жазылу рәсімделмеді.

## Күтпеген жауаптар

bk-day-past = { $date } өтіп кетті.
bk-day-beyond = Ең көбі { $days } күн алға жазылуға болады — { $last } дейін.
bk-day-holiday = { $date } — мереке күні ({ $holiday }), қабылдау жоқ.
bk-day-day-off = { $date } — демалыс күні, қабылдау жоқ.
bk-day-over = { $date } күнге жазылу мүмкін емес: бұл күнгі қабылдау аяқталды немесе аяқталуға жақын.
bk-day-full = { $date } күні бос уақыт жоқ.
bk-day-full-part = { $date } күні { $part } бос уақыт жоқ.
bk-no-days = Алдағы { $days } күнде бос уақыт жоқ ({ $office }). Басқа орынды таңдаңыз.
bk-time-not-free = Бұл күні { $time } уақыты бос емес немесе қолжетімсіз.
bk-slot-taken = { $time } уақытын жаңа ғана басқа біреу алды. Басқасын таңдаңыз:
bk-time-passed = { $time } уақытына енді жазылу мүмкін емес. Басқа уақытты таңдаңыз:
bk-use-buttons = Жауабыңызды түсінбедім. Батырманы басыңыз немесе былай жазыңыз: «ертең», «10.12», «15:00», «түстен кейін».
bk-no-personal = Жазылу үшін ЖСН, телефон немесе аты-жөніңіз керек емес: жазылуда тек Telegram ID сақталады. Дербес деректеріңізді жібермеңіз.
bk-stale = Бұл батырма бұрынғы жазылуға қатысты. Қайтадан бастайық.
bk-expired-confirm = Бұл растаудың мерзімі өтті, ол бойынша жазылу рәсімделмеді.

## Еске салу (bot/reminders.py)

bk-reminder =
    🔔 Еске салу: сіз электрондық кезекке жазылғансыз.
    Күні мен уақыты: { $when }
    Орын: { $office }, { $address }
    Талон: { $code }

## Қызметкерлер: /day (bot/handlers/booking_staff.py)

bk-staff-title = { $date } жазылулары — { $office } ({ $office_id }):
bk-staff-line = { $time } · { $window }-терезе · { $code } · { $service }
bk-staff-none = Жазылу жоқ.
bk-staff-total = Барлығы: { $count }.
bk-staff-usage = Пішімі: /day [кеңсе] [күн], мысалы «/day ast-psc1 ертең». Кеңселер: { $offices }
bk-staff-unknown-office = «{ $office }» кеңсесі жоқ.
bk-staff-bad-date = «{ $date }» күнін түсінбедім. Мысал: 14.12 немесе «ертең».
bk-staff-csv = { $date } тізімі (CSV)
