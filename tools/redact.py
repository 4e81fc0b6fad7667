"""Our webhook URLs carry each account's secret token: no log line ever shows it."""
import logging
import re

WEBHOOK_TOKEN = re.compile(r'(/comm/webhook/)[^/?\s"]+')


def redact_token(text):
    """``text`` with the token of any of our webhook URLs hidden (log the account id instead)."""
    return WEBHOOK_TOKEN.sub(r'\1<token>', text)


class RedactWebhookTokens(logging.Filter):
    """The access log (werkzeug) names each request's path: never with the token."""

    def filter(self, record):
        message = record.getMessage()
        if '/comm/webhook/' in message:
            record.msg, record.args = redact_token(message), ()
        return True


def install_access_log_filter():
    werkzeug_logger = logging.getLogger('werkzeug')
    if not any(type(f).__name__ == RedactWebhookTokens.__name__ for f in werkzeug_logger.filters):
        werkzeug_logger.addFilter(RedactWebhookTokens())
