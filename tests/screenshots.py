"""README screenshots taken by the tours: with ``COMM_GATEWAY_SCREENSHOTS=<folder>`` (e.g. the
repository's ``docs``), a tour run inside :func:`readme_screenshot` saves what the browser shows
at its last step as ``<folder>/<name>.png``. Without it nothing is written (CI, the usual runs)::

    COMM_GATEWAY_SCREENSHOTS=$PWD/docs TEST_TAGS=/comm_gateway:TestConversationUi ./dev.sh test
"""
import base64
import os
from contextlib import contextmanager
from pathlib import Path
from unittest.mock import patch

from odoo.tests.common import ChromeBrowser


@contextmanager
def readme_screenshot(name):
    folder = os.environ.get('COMM_GATEWAY_SCREENSHOTS')
    if not folder:
        yield
        return
    wait_code_ok = ChromeBrowser._wait_code_ok

    def _wait_code_ok(browser, *args, **kwargs):
        result = wait_code_ok(browser, *args, **kwargs)      # the tour passed: its last screen is up
        shot = browser._websocket_request('Page.captureScreenshot', params={'format': 'png'})
        Path(folder, f'{name}.png').write_bytes(base64.b64decode(shot['data'], validate=True))
        return result

    with patch.object(ChromeBrowser, '_wait_code_ok', _wait_code_ok):
        yield
