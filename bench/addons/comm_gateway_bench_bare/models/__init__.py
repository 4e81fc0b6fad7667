from . import bare_event
