"""PDFs are rendered in worker threads: several citizens confirming at once
on a freshly started bot each get their PDF (Fluent's lazy loading once
failed here with "generator already executing")."""

from __future__ import annotations

import asyncio
from datetime import date

import pytest

from actions.i18n import Translator
from actions.pdf import FilledForm, find_fonts, render_application
from knowledge.base import KnowledgeBase


async def test_four_pdfs_at_once_from_a_fresh_translator(kb: KnowledgeBase) -> None:
    try:
        find_fonts()
    except Exception:  # noqa: BLE001 - no font on this machine
        pytest.skip("no TTF font with Kazakh letters")
    t = Translator()  # nothing asked of it yet: the state right after start
    filled = FilledForm(
        number="DUP-2026-00001",
        university_head_name="Сәрсенбаев Ержан Қайратұлы",
        specialty="Информатика",
        university="Әл-Фараби атындағы ҚазҰУ",
        graduation_year=2012,
        applicant_name="Жұмабаева Әсел Серікқызы",
        iin="950101400002",
        phone="+77011234567",
        university_new=None,
        reason="lost",
        requested="diploma",
        submitted=date(2026, 11, 25),
    )
    jobs = []
    for lang in ("kk", "ru", "kk", "ru"):
        title = kb.standard_title(kb.form.standard, lang)
        jobs.append(asyncio.to_thread(render_application, kb.form, filled, lang, t, title))
    pdfs = await asyncio.gather(*jobs)
    assert all(pdf.startswith(b"%PDF") for pdf in pdfs)
