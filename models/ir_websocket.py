from odoo import models

from .mail_thread import LIVE_CHANNEL_PREFIX


class IrWebsocket(models.AbstractModel):
    _inherit = 'ir.websocket'

    def _build_bus_channel_list(self, channels):
        """A chatter subscribes to its record's live channel (``mail.thread._comm_live_refresh``):
        kept only for internal users who may read the record, dropped otherwise."""
        channels = list(channels)
        for channel in list(channels):
            if isinstance(channel, str) and channel.startswith(LIVE_CHANNEL_PREFIX):
                if not self._comm_may_follow_live(channel[len(LIVE_CHANNEL_PREFIX):]):
                    channels.remove(channel)
        return super()._build_bus_channel_list(channels)

    def _comm_may_follow_live(self, name):
        model, _sep, res_id = name.rpartition('_')
        if not (self.env.user._is_internal() and res_id.isdigit() and model in self.env):
            return False
        record = self.env[model].browse(int(res_id))
        return 'message_ids' in record._fields and bool(record.exists()) and record.has_access('read')
