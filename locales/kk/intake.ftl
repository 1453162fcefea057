## Өтініштер: телнұсқаға арналған 1-қосымша нысаны, мәртебе, қызметкерлер.

## Бастау және келісім

intake-intro = Жоғары және жоғары оқу орнынан кейінгі білім туралы құжаттың телнұсқасын беру туралы өтінішті стандарттың 1-қосымшасындағы нысан бойынша толтырамыз. Сұрақтар саны: { $steps }. Өтініш — қызметкерлерге жіберілетін сұраныс: олар деректерді тексеріп, сізбен хабарласады. Кез келген қадамда артқа қайтуға немесе өтініштен бас тартуға болады.
intake-consent = Өтініш үшін дербес деректеріңіз қажет: Т.А.Ә., ЖСН, телефон және білім туралы мәліметтер. Олар тек осы өтініш үшін пайдаланылады және оны өңдейтін қызметкерлерге ғана көрінеді; оларды /forget пәрменімен өшіруге болады. Дербес деректерді жинауға және өңдеуге келісесіз бе?
intake-btn-consent-yes = Келісемін
intake-btn-consent-no = Келіспеймін
intake-btn-grant = Маған грант немесе әлеуметтік қолдау керек
intake-consent-thanks = Рақмет. Бастайық.
intake-no-consent = Жақсы, мен ештеңе сақтаған жоқпын. Өтінішті менсіз де беруге болады — өзіңіз барып немесе портал арқылы:
intake-resumed = Өтінішті толтыруды жалғастырайық.
intake-cancelled = Өтініштен бас тартылды, енгізілген деректер өшірілді.
intake-form-closed = Бұл нысан жабылған. Өтініштеріңіздің мәртебесін тексеруге немесе жаңа өтініш бастауға болады.
intake-grant-elsewhere = Білім беру гранты немесе әлеуметтік қолдау туралы өтінішті мен толтырмаймын: ол ЖОО-ға немесе egov.kz порталы арқылы беріледі. Стандартта былай делінген:

## Сұрақтар

intake-step = Сұрақ { $n } / { $total }.
intake-ask-university_head_name = Өтініш атына берілетін ЖОО басшысының (ректордың) тегін, атын және әкесінің атын (болған жағдайда) толық жазыңыз.
intake-ask-specialty = ЖОО-ны қай мамандық бойынша бітірдіңіз?
intake-ask-university = Бітірген ЖОО-ның толық атауын жазыңыз.
intake-ask-graduation_year = ЖОО-ны қай жылы бітірдіңіз? Төрт цифрмен жазыңыз, мысалы: 2012.
intake-ask-applicant_name = Өзіңіздің тегіңізді, атыңызды және әкеңіздің атын (болған жағдайда) толық жазыңыз.
intake-ask-iin = ЖСН-іңізді жазыңыз — 12 цифр.
intake-ask-phone = Байланыс телефоны: +7 және 10 цифр (немесе 8 және 10 цифр).
intake-ask-university_new = ЖОО-ның атауы немесе мекенжайы өзгерген болса, жаңа атауы мен мекенжайын жазыңыз. Өзгермесе — «Өткізіп жіберу» батырмасын басыңыз.
intake-ask-reason = Телнұсқаны беру себебі:
intake-ask-requested = Не беру керек?
intake-ask-channel = Өтінішті қайда тапсырып, құжатты қайдан аласыз?
intake-current = Қазіргі мәні: { $value }

## Батырмалар

intake-btn-skip = Өткізіп жіберу
intake-btn-keep = Өзгеріссіз қалдыру
intake-btn-summary = Өтінішке оралу
intake-btn-back = ← Артқа
intake-btn-cancel = Бас тарту
intake-btn-confirm = ✅ Растау
intake-btn-edit = ✏️ Түзету
intake-btn-start = Телнұсқаға өтініш беру
intake-btn-duplicate = Диплом телнұсқасына өтініш
intake-btn-resume = Өтінішті жалғастыру
intake-btn-lookup = Нөмір бойынша тексеру

## Қорытынды

intake-summary-title = Өтінішті тексеріңіз:
intake-summary-line = { $label }: { $value }
intake-summary-question = Бәрі дұрыс па? Өтінішті қызметкерлерге жіберу үшін «Растау» батырмасын басыңыз.
intake-db-down = Өтінішті жіберу мүмкін болмады: қызмет уақытша қолжетімсіз. Ештеңе жіберілген жоқ, ал толтырған мәліметтеріңіз сақталды. Бір минуттан кейін қайталап көріңіз — «Растау» батырмасын басыңыз.
intake-edit-which = Нені түзетеміз?
intake-field-university_head_name = ЖОО басшысы
intake-field-specialty = Мамандығы
intake-field-university = ЖОО
intake-field-graduation_year = Бітірген жылы
intake-field-applicant_name = Өтініш берушінің Т.А.Ә.
intake-field-iin = ЖСН
intake-field-phone = Телефон
intake-field-university_new = ЖОО-ның жаңа атауы мен мекенжайы
intake-field-reason = Себебі
intake-field-requested = Не беру керек
intake-field-channel = Тапсыру және алу орны

## Енгізуді тексеру

intake-err-use-buttons = Төмендегі батырмалардың бірін таңдаңыз.
intake-err-pick = Таңдауыңызды түсінбедім. Батырманы басыңыз немесе нұсқаның нөмірін жазыңыз.
intake-err-empty = Жауап бос. Мәнін жазыңыз.
intake-err-too-long = Мәтін тым ұзын ({ $length } таңба), ең көбі — { $limit }. Мен оны сақтаған жоқпын — қысқарақ жазыңыз.
intake-err-no-letters = Жауапта әріптер болуы керек. Қайта жазыңыз.
intake-err-name-digits = Т.А.Ә.-де цифр болмауы керек. Тегін, атын және әкесінің атын әріппен жазыңыз.
intake-err-name-chars = Т.А.Ә.-де тек әріптер, бос орын, дефис және апостроф болуы мүмкін.
intake-err-name-short = Т.А.Ә.-ні толық жазыңыз: кемінде тегі мен аты.
intake-err-year-format = Жыл төрт цифрмен жазылады, мысалы: 2012.
intake-err-year-future = Бұл жыл әлі келген жоқ: бітірген жыл { $year } жылдан кеш болмауы керек.
intake-err-year-too-early = Бітірген жыл { $year } жылдан ерте болмауы керек. Тексеріңіз.
intake-err-iin-digits = ЖСН тек цифрлардан тұрады — әріпсіз және басқа белгілерсіз.
intake-err-iin-length = ЖСН-де дәл 12 цифр болады. Тексеріңіз.
intake-err-iin-date = ЖСН-нің алғашқы алты цифры — туған күн (ЖЖААКК), жетінші цифры — 1-ден 6-ға дейін. Бұл нөмірде олар сәйкес келмейді; тексеріңіз.
intake-err-iin-checksum = ЖСН-де қате бар сияқты: бақылау цифры сәйкес келмейді. Тексеріңіз.
intake-err-phone-format = Нөмірді +7 777 123 45 67 немесе 8 777 123 45 67 түрінде жазыңыз: ел коды және 10 цифр.

# Typed words the form understands (comma-separated; compared after folding).
intake-words-cancel = бас тарту, тоқтату, болдырмау, доғару, тоқта, cancel
intake-words-back = артқа, кері, кері қайту, back
intake-words-skip = өткізіп жіберу, өткізу, жоқ, өзгерген жоқ, өзгермеді, skip
intake-words-yes = иә, ия, келісемін, жарайды, ок, yes
intake-words-no = жоқ, келіспеймін, no

## Растау

intake-done = № { $number } өтініш тіркелді, мәртебесі — «{ $status }». Бұл — қызметкерлерге жіберілген сұраныс: олар деректерді тексеріп, { $phone } нөмірі бойынша сізбен хабарласады. Тапсыру және алу орны: { $channel }. Телнұсқа берілетін болжамды соңғы күн — { $due } (құжаттар қабылданған күннен бастап күнтізбелік 30 күн).
intake-bring = Қажетті құжаттар:
intake-done-status = Мәртебені тексеру үшін өтініш нөмірі керек болады: «Өтініш мәртебесі» батырмасы немесе /status пәрмені. Мәртебе өзгергенде мен хабарлаймын.
intake-pdf-caption = № { $number } өтініш, 1-қосымшадағы нысан бойынша — оны басып шығарып, қол қоюға болады.

## Мәртебе

intake-status-title = Сіздің өтініштеріңіз:
intake-status-line =
    № { $number } — { $requested }
    Мәртебесі: { $status }
    Берілген күні: { $created }; орындалу мерзімі: { $due }
intake-status-place = Алу орны: { $place }
intake-status-reason = Бас тарту себебі: { $reason }
intake-status-none = Осы чаттан берілген өтініштер жоқ. { $service ->
        [duplicate] Өтініш ЖОО-ға, ХҚО-ға немесе портал арқылы берілген болса:
       *[other] Өтініш ЖОО-ға немесе портал арқылы берілген болса:
    }
intake-form-open = Аяқталмаған өтінішіңіз бар — оны жалғастыруға болады.
intake-status-received = қабылданды
intake-status-in_review = қаралуда
intake-status-ready = беруге дайын
intake-status-issued = берілді
intake-status-rejected = бас тартылды
intake-lookup-ask-number = Өтініштің нөмірін жазыңыз, мысалы DUP-2026-00001.
intake-lookup-bad-number = Хабарламада өтініш нөмірі жоқ сияқты.
intake-lookup-ask-iin = Осы чаттан берілмеген өтініштің мәртебесін көрсету үшін өтініш берушінің ЖСН-ін жазыңыз.
intake-lookup-not-found = Мұндай нөмірі мен ЖСН-і бар өтініш табылмады.
intake-lookup-too-many = Өтініш табылмады. Нөмір мен ЖСН-ді тексеріңіз немесе «Операторға хабарласу» батырмасын басыңыз. 1414 бірыңғай байланыс орталығына да қоңырау шалуға болады (8 800 080 7777, тегін).
intake-lookup-cancelled = Жақсы, нөмір бойынша тексеруді тоқтаттым.

## Хабарламалар (outbox)

intake-notify-received = № { $number } өтініш қабылданды. Орындалу мерзімі: { $due }.
intake-notify-in_review = № { $number } өтініш жұмысқа алынды, қызметкерлер оны қарап жатыр. Болжамды орындалу мерзімі: { $due }.
intake-notify-ready = № { $number } өтініш бойынша телнұсқа дайын. Алу орны: { $place }.
intake-notify-issued = № { $number } өтініш бойынша телнұсқа берілді. Жүгінгеніңізге рақмет!
intake-notify-rejected = № { $number } өтініш бойынша бас тартылды. Себебі: { $reason }. Келіспесеңіз, шешімге шағымдануға болады — шағымды қалай беруге болатынын менен сұраңыз.

## PDF (1-қосымша)

intake-pdf-number = № { $number } өтініш
intake-pdf-appendix = «{ $standard }» мемлекеттік көрсетілетін қызмет стандартына 1-қосымша
intake-pdf-contacts = тел. { $phone }, ЖСН { $iin }
intake-pdf-body = Маған мына құжатты беруіңізді сұраймын: { $requested }. Себебі: { $reason }.
intake-pdf-date = «{ $day }» { $month } { $year } ж.
intake-pdf-footer = Өтініш беруші енгізген деректер бойынша 1414 байланыс орталығының көмекшісі толтырды. Қолды өтініш берушінің өзі қояды.
intake-month-1 = қаңтар
intake-month-2 = ақпан
intake-month-3 = наурыз
intake-month-4 = сәуір
intake-month-5 = мамыр
intake-month-6 = маусым
intake-month-7 = шілде
intake-month-8 = тамыз
intake-month-9 = қыркүйек
intake-month-10 = қазан
intake-month-11 = қараша
intake-month-12 = желтоқсан

## Қызметкерлер чаты

intake-reason-lost = жоғалуы
intake-reason-name_change = Т.А.Ә. өзгеруі
intake-reason-unusable = жарамсыздығы
intake-reason-filling_errors = толтырудағы қателер
intake-requested-diploma = диплом телнұсқасы
intake-requested-diploma_with_appendix = қосымшасымен бірге диплом телнұсқасы
intake-requested-appendix = қосымша телнұсқасы
staff-app-new = Жаңа өтініш { $number }: телнұсқа, { $channel }, мерзімі: { $due }. Толығырақ: /app { $number }
staff-app-card =
    Өтініш { $number } — { $status }
    Қызмет: { $service }; тапсыру және алу: { $channel }; өтініш берушінің тілі: { $citizen_lang }
    Берілген күні: { $created }; мерзімі: { $due }
    Өтініш беруші: { $applicant }; ЖСН: { $iin }; тел.: { $phone }
    ЖОО: { $university }, { $year }; мамандығы: { $specialty }
    ЖОО басшысы: { $head }
    ЖОО-ның жаңа атауы мен мекенжайы: { $university_new }
    Себебі: { $reason }; беру керек: { $requested }
    Алу орны: { $place }; бас тарту себебі: { $reject_reason }
    Не істеу керек: өтініш берушіге телефон арқылы хабарласып, деректерді растау; мәртебе: /setstatus { $number } in_review
staff-app-usage =
    Пәрмендер:
    /app НӨМІР — өтінішті көрсету
    /apps [МӘРТЕБЕ] — ашық өтініштер немесе осы мәртебедегі өтініштер
    /setstatus НӨМІР МӘРТЕБЕ [орны | себебі]
    Мәртебелер: received, in_review, ready (алу орны керек), issued, rejected (себебі керек).
staff-app-not-found = { $number } өтініші табылмады.
staff-app-changed = { $number }: { $old } → { $new }. Өтініш берушіге хабарлама жіберіледі.
staff-app-changed-silent = { $number }: { $old } → { $new }. Өтініш беруші деректерін өшірген, сондықтан хабарлама жіберілмейді.
staff-app-err-not-allowed = { $number }: «{ $current }» мәртебесінен «{ $target }» мәртебесіне өтуге болмайды. Болады: { $allowed }.
staff-app-err-unknown-status = «{ $target }» деген мәртебе жоқ. Мәртебелер: received, in_review, ready, issued, rejected.
staff-app-err-place-required = ready мәртебесі үшін алу орнын көрсетіңіз: /setstatus { $number } ready МЕКЕНЖАЙ
staff-app-err-reason-required = rejected мәртебесі үшін себебін көрсетіңіз: /setstatus { $number } rejected СЕБЕБІ
staff-app-err-concurrent = { $number } өтінішінің мәртебесін жаңа ғана басқа біреу өзгертті. /app { $number } пәрменімен тексеріп, қайталаңыз.
staff-app-list-title = Өтініштер ({ $status }):
staff-app-list-open = ашық
staff-app-list-line = { $number } — { $status }, мерзімі: { $due }, { $channel }
staff-app-list-empty = Өтініштер жоқ.
staff-app-allowed-none = ештеңе, мәртебе түпкілікті
intake-lookup-locked = Нөмір бойынша мәртебені тексеру қазір қолжетімсіз: бірнеше рет қате енгізілді. Бірнеше сағаттан кейін қайталап көріңіз немесе «Операторға хабарласу» батырмасын басыңыз. 1414 бірыңғай байланыс орталығына да қоңырау шалуға болады (8 800 080 7777, тегін). Осы чаттан берілген өтініштерді «Өтініш мәртебесі» батырмасы арқылы көруге болады.
