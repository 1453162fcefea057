"""Applications (intake): the Appendix 1 form for a duplicate, and status."""

from actions.intake.flow import ApplicationFlow, DocumentReply

__all__ = ["ApplicationFlow", "DocumentReply"]
