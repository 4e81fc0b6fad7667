from odoo import fields, models


class BareEvent(models.Model):
    _name = 'comm.bench.bare.event'
    _description = 'Bench baseline: one row per bare webhook'
    _log_access = False

    key = fields.Char(index=True)
