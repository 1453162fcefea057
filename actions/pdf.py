"""The filled Appendix 1 (application for a duplicate) as a PDF, in the
citizen's language.

Kazakh needs letters that the PDF core fonts lack (ә ғ қ ң ө ұ ү һ і), so the
text is set in a TrueType font that has them: DejaVu Sans, from Debian's
fonts-dejavu-core (`make setup` installs it) or any path in PDF_FONT. It is
never downloaded at run time.
"""

from __future__ import annotations

import asyncio
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from fpdf import FPDF

from actions.i18n import Translator
from knowledge.base import ApplicationForm, FormOption

# Letters a font must have to set Kazakh and Russian text.
REQUIRED_GLYPHS = "әғқңөұүһіӘҒҚҢӨҰҮҺІёЁ" + "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",  # Debian / Ubuntu
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",  # Fedora / Alpine
    "/usr/share/fonts/TTF/DejaVuSans.ttf",  # Arch
    "/usr/local/share/fonts/DejaVuSans.ttf",
    "/Library/Fonts/DejaVuSans.ttf",
)


class FontMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class Fonts:
    regular: Path
    bold: Path | None


def _bold_of(regular: Path) -> Path | None:
    bold = regular.with_name(regular.stem + "-Bold" + regular.suffix)
    return bold if bold.is_file() else None


@lru_cache(maxsize=1)
def find_fonts() -> Fonts:
    """PDF_FONT when set, else DejaVu Sans where distributions put it, else
    the copy matplotlib ships when it is installed."""
    configured = os.environ.get("PDF_FONT")
    candidates = [Path(configured)] if configured else []
    candidates += [Path(p) for p in FONT_CANDIDATES]
    try:
        import matplotlib  # optional; only for the font it ships

        candidates.append(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf")
    except ImportError:
        pass
    for path in candidates:
        if path.is_file():
            return Fonts(path, _bold_of(path))
    raise FontMissing(
        "no TrueType font with Kazakh letters: install fonts-dejavu-core "
        "(make setup) or set PDF_FONT to a .ttf file"
    )


@dataclass(frozen=True)
class FilledForm:
    """What goes on the form, already as text (labels resolved by the caller)."""

    number: str
    university_head_name: str
    specialty: str
    university: str
    graduation_year: int
    applicant_name: str
    iin: str
    phone: str
    university_new: str | None
    reason: str  # key of appendix1.yml reasons
    requested: str  # key of appendix1.yml requested
    submitted: date


def option_label(options: tuple[FormOption, ...], key: str, lang: str) -> str:
    """The form's wording of a reason or a requested document."""
    for option in options:
        if option.key == key:
            return option.label[lang]
    return key


def render_application(
    form: ApplicationForm, filled: FilledForm, lang: str, t: Translator, standard_title: str
) -> bytes:
    """Appendix 1 as a one-page A4 PDF, laid out like the paper form: the
    addressee block on the right, the title, the request, date and signature."""
    fonts = find_fonts()
    labels = {f.key: f.label[lang] for f in form.fields}
    pdf = FPDF(format="A4")
    pdf.set_title(f"{form.title[lang]} {filled.number}")
    pdf.set_author("1414")
    pdf.set_creator("1414 assistant")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_font("Form", "", str(fonts.regular))
    pdf.add_font("Form", "B", str(fonts.bold or fonts.regular))
    pdf.add_page()

    pdf.set_font("Form", size=9)
    pdf.set_text_color(90, 90, 90)
    pdf.cell(0, 5, t(lang, "intake-pdf-number", number=filled.number), align="L")
    pdf.ln(5)
    quoted = re.search(r"«(.+)»", standard_title)
    name = quoted.group(1) if quoted else standard_title
    pdf.multi_cell(0, 4, t(lang, "intake-pdf-appendix", standard=name), align="R")
    pdf.ln(4)

    block_x = 95.0
    block_w = pdf.w - pdf.r_margin - block_x
    contacts = t(lang, "intake-pdf-contacts", phone=filled.phone, iin=filled.iin)
    rows = [
        (filled.university_head_name, labels["university_head_name"]),
        (filled.specialty, labels["specialty"]),
        (
            f"{filled.university}, {filled.graduation_year}",
            labels["university_and_graduation_year"],
        ),
        (filled.applicant_name, labels["applicant_full_name"]),
        (contacts, labels["applicant_contacts"]),
        (filled.university_new or "—", labels["university_name_address_if_changed"]),
    ]
    for value, caption in rows:
        pdf.set_x(block_x)
        pdf.set_text_color(0, 0, 0)
        pdf.set_font("Form", size=11)
        pdf.multi_cell(block_w, 6, value, border="B", align="L", new_x="LMARGIN", new_y="NEXT")
        pdf.set_x(block_x)
        pdf.set_text_color(90, 90, 90)
        pdf.set_font("Form", size=8)
        pdf.multi_cell(block_w, 4, f"/{caption}/", align="C", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)

    pdf.ln(8)
    pdf.set_text_color(0, 0, 0)
    pdf.set_font("Form", "B", size=14)
    pdf.cell(0, 8, form.title[lang], align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Form", size=12)
    body = t(
        lang,
        "intake-pdf-body",
        requested=option_label(form.requested, filled.requested, lang),
        reason=option_label(form.reasons, filled.reason, lang),
    )
    pdf.multi_cell(0, 7, body, align="L", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(12)

    d = filled.submitted
    when = t(
        lang,
        "intake-pdf-date",
        day=f"{d.day:02d}",
        month=t(lang, f"intake-month-{d.month}"),
        year=str(d.year),
    )
    half = (pdf.w - pdf.l_margin - pdf.r_margin) / 2
    pdf.cell(half, 7, when)
    pdf.cell(half, 7, "_" * 24, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Form", size=8)
    pdf.set_text_color(90, 90, 90)
    pdf.cell(half, 4, "")
    pdf.cell(half, 4, f"/{labels['signature']}/", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(10)
    pdf.multi_cell(0, 4, t(lang, "intake-pdf-footer"), align="L")
    return bytes(pdf.output())


def warm_up(form: ApplicationForm, t: Translator, standard_title: str) -> bool:
    """Render one sample form in each language, so that the fonts are loaded
    before the first citizen confirms (their PDF is then as fast as the rest,
    and the process's memory does not step up under load). False without a font."""
    sample = FilledForm(
        number="DUP-0000-00000",
        university_head_name="Үлгі Үлгі Үлгіұлы",
        specialty="Үлгі",
        university="Үлгі",
        graduation_year=2000,
        applicant_name="Образец Образец Образцович",
        iin="000000000000",
        phone="+70000000000",
        university_new=None,
        reason="lost",
        requested="diploma",
        submitted=date(2000, 1, 1),
    )
    try:
        for lang in ("kk", "ru"):
            render_application(form, sample, lang, t, standard_title)
    except FontMissing:
        return False
    return True


# PDFs are rendered off the event loop, one at a time, in one thread of their
# own: a burst of confirmations (a deadline day) then costs one thread's
# memory, not one malloc arena per default-executor thread, and leaves the
# other core to the dialogue. About 0.1-0.2 s a PDF.
_RENDERER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pdf")


async def render_async(
    form: ApplicationForm, filled: FilledForm, lang: str, t: Translator, standard_title: str
) -> bytes:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(
        _RENDERER, render_application, form, filled, lang, t, standard_title
    )


async def warm_up_async(form: ApplicationForm, t: Translator, standard_title: str) -> bool:
    """`warm_up` in the renderer's thread (its memory is then in place)."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_RENDERER, warm_up, form, t, standard_title)
