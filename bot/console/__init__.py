"""The agent console (a web page for 1414 phone agents), served by the bot's process."""

from bot.console.app import PREFIX, console_app, console_site, mount_console

__all__ = ["PREFIX", "console_app", "console_site", "mount_console"]
