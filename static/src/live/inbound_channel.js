import { Message } from "@mail/core/common/message";

import { _t } from "@web/core/l10n/translation";
import { patch } from "@web/core/utils/patch";

/** Inbound SMS / WhatsApp / MMS show the channel they came by, not e-mail delivery statuses. */
const INBOUND = {
    sms: { icon: "fa fa-mobile", name: _t("SMS") },
    whatsapp: { icon: "fa fa-whatsapp", name: _t("WhatsApp") },
    mms: { icon: "fa fa-picture-o", name: _t("MMS") },
};

patch(Message.prototype, {
    get commInbound() {
        const channel = INBOUND[this.message.commInboundChannel];
        return channel && {
            ...channel,
            title: _t("Received via %(channel)s", { channel: channel.name }),
        };
    },
});
