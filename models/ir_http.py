from odoo import models


class IrHttp(models.AbstractModel):
    _inherit = 'ir.http'

    def session_info(self):
        """Phone fields show one call action: ours when the user may call through the company's
        voice account (the provider rings the agent, then the customer), else Odoo's ``tel:`` link."""
        result = super().session_info()
        user = self.env.user
        result['comm_gateway_call'] = bool(
            user._is_internal() and user.has_group('comm_gateway.group_comm_user')
            and self.env.company.sudo().comm_voice_provider_id.channel_voice)
        return result
