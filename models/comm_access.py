from odoo import api, fields, models
from odoo.osv import expression
from odoo.tools import SQL


class CommDocumentAccess(models.AbstractModel):
    """Who sees a message or a call: like ``mail.message`` follows its document, a Communications
    User sees a row only where they may read the record it was made from (``res_model`` /
    ``res_id``), or, for a row without one, its contact. The record rules of ``comm.message``,
    ``comm.call`` and ``comm.history`` say ``[('comm_readable', '=', True)]`` for users (and
    nothing more for administrators), so lists, counts and smart buttons follow the same rule."""
    _name = 'comm.document.access'
    _description = 'Access to messages and calls through their document'

    comm_readable = fields.Boolean('Readable through its document', compute='_compute_comm_readable',
                                   search='_search_comm_readable')

    def _compute_comm_readable(self):
        readable = set(self.search([('id', 'in', self.ids), ('comm_readable', '=', True)]).ids)
        for row in self:
            row.comm_readable = row.id in readable

    @api.model
    def _search_comm_readable(self, operator, value):
        if operator not in ('=', '!=') or not isinstance(value, bool):
            raise NotImplementedError(f'comm_readable {operator} {value!r}')
        # record rules are evaluated in sudo: the documents are searched with the user's own rights
        env = self.env(su=False, context=dict(self.env.context, active_test=False))   # archived ones too
        # the models rows are linked to, by a loose index scan (one index probe per model, not a
        # scan of the table as DISTINCT would do)
        self.env.cr.execute(SQL(
            """WITH RECURSIVE models(name) AS (
                   SELECT min(res_model) FROM %(table)s
                    UNION ALL
                   SELECT (SELECT min(res_model) FROM %(table)s WHERE res_model > models.name)
                     FROM models WHERE models.name IS NOT NULL)
               SELECT name FROM models WHERE name IS NOT NULL""", table=SQL.identifier(self._table)))
        domains = [
            ['&', ('res_model', '=', model), ('res_id', 'in', env[model]._search([]))]
            for (model,) in self.env.cr.fetchall()
            if model in env and env[model].has_access('read')
        ]
        if env['res.partner'].has_access('read'):
            domains.append(['&', ('res_model', '=', False), ('partner_id', 'in', env['res.partner']._search([]))])
        domain = expression.OR(domains) if domains else expression.FALSE_DOMAIN
        return domain if (operator == '=') == value else ['!', *domain]


class CommMessage(models.Model):
    _name = 'comm.message'
    _inherit = ['comm.message', 'comm.document.access']


class CommCall(models.Model):
    _name = 'comm.call'
    _inherit = ['comm.call', 'comm.document.access']


class CommHistory(models.Model):
    _name = 'comm.history'
    _inherit = ['comm.history', 'comm.document.access']
