"""Mail-archive simulator: e-mails and their attachments, listed by case reference (port 8105).

docflow's case assembly lists a case's messages, downloads each message (message/rfc822) and
each attachment, and files them into the case workspace.
"""

from simulators.mail_archive.api import create_app
from simulators.mail_archive.sim import MailArchiveConfig, MailArchiveSim, MailSeed

__all__ = ["MailArchiveConfig", "MailArchiveSim", "MailSeed", "create_app"]
