# Every tests/test_*.py module is part of the suite (Odoo collects the test_* submodules of this
# package), imported here without a list that each new file would have to edit.
import importlib
import pkgutil

for _info in pkgutil.iter_modules(__path__):
    if _info.name.startswith('test_'):
        globals()[_info.name] = importlib.import_module(f'.{_info.name}', __name__)
from . import test_governance
