"""Logging of the module: one correlation id per message in every line about it, and debug
logging per component switched on in Settings, without a restart.

* :func:`correlation` sets the reference of the message being worked on (``comm.message.client_ref``,
  the one Meta echoes as ``biz_opaque_callback_data`` and Vonage as ``client_ref``) for the code
  under it; :class:`CorrelationFilter`, on every logger of the module, appends ``[ref …]`` to
  their lines meanwhile. The dispatch pool sets it in its threads too (tools/dispatch.py).
* :func:`apply_levels` sets the components' loggers to DEBUG or back, from the switches kept in
  ``ir.config_parameter`` (shared by every worker); :func:`refresh` calls it at most every
  :data:`REFRESH_SECONDS` per process (the parameter itself is cached by Odoo, and its cache is
  cleared in every worker when it changes).
* Bodies (message text, webhook payloads) are logged only when the separate "log bodies" switch is
  on (:func:`bodies_logged`); secrets never are.
"""
import contextlib
import contextvars
import logging
import time

PACKAGE = 'odoo.addons.comm_gateway'
# component -> the loggers it switches (a logger covers its children: providers.twilio.sdk)
COMPONENTS = {
    'webhooks': ('controllers.webhook',),
    'queue': ('models.comm_webhook_event', 'models.comm_message_media', 'models.comm_message_inbound'),
    'dispatch': ('models.comm_dispatch', 'models.comm_message', 'models.comm_message_reconcile',
                 'models.comm_message_lifecycle', 'tools.dispatch', 'providers.base'),
    'twilio': ('providers.twilio',),
    'plivo': ('providers.plivo',),
    'vonage': ('providers.vonage',),
    'meta': ('providers.meta',),
}
DEBUG_PARAM = 'comm_gateway.debug_%s'             # one switch per COMPONENTS key
BODIES_PARAM = 'comm_gateway.log_bodies'
REFRESH_SECONDS = 15.0

_current_ref = contextvars.ContextVar('comm_gateway_ref', default='')
_state = {'checked': 0.0, 'debug': None, 'bodies': False}


@contextlib.contextmanager
def correlation(ref):
    """Lines logged under this block carry ``[ref <ref>]`` (nothing when ``ref`` is empty)."""
    token = _current_ref.set(ref or '')
    try:
        yield
    finally:
        _current_ref.reset(token)


def current_ref():
    return _current_ref.get()


class CorrelationFilter(logging.Filter):
    def filter(self, record):
        ref = _current_ref.get()
        if ref and not getattr(record, 'comm_ref', None):
            record.comm_ref = ref
            record.msg = f'{record.msg} [ref {ref}]'
        return True


def install_filter():
    """Put the filter on every logger of the module (filters do not propagate to children)."""
    names = [name for name in logging.Logger.manager.loggerDict if name.startswith(PACKAGE)]
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, CorrelationFilter) for f in logger.filters):
            logger.addFilter(CorrelationFilter())


def logger_names(component):
    return [f'{PACKAGE}.{name}' for name in COMPONENTS[component]]


def apply_levels(debug_components, bodies=False):
    """DEBUG on the loggers of ``debug_components``; those switched off since inherit their level
    again (a level set at startup with ``--log-handler`` is left alone otherwise)."""
    debug_components = frozenset(debug_components)
    for component in COMPONENTS:
        if component in debug_components:
            level = logging.DEBUG
        elif component in (_state['debug'] or ()):
            level = logging.NOTSET
        else:
            continue
        for name in logger_names(component):
            logging.getLogger(name).setLevel(level)
    _state.update(debug=debug_components, bodies=bool(bodies))


def refresh(env, force=False):
    """Apply the switches of Settings in this process, at most every few seconds."""
    now = time.monotonic()
    if not force and now - _state['checked'] < REFRESH_SECONDS:
        return
    _state['checked'] = now
    params = env['ir.config_parameter'].sudo()
    wanted = frozenset(c for c in COMPONENTS if _on(params.get_param(DEBUG_PARAM % c)))
    bodies = _on(params.get_param(BODIES_PARAM))
    if wanted != _state['debug'] or bodies != _state['bodies']:
        apply_levels(wanted, bodies)


def _on(value):
    return (value or '').lower() in ('1', 'true')


def bodies_logged():
    """Whether message texts and payloads may be logged (the separate Settings switch)."""
    return _state['bodies']
