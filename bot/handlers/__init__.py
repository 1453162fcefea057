"""One router per feature; `bot.dispatcher` puts them together."""
