import { Failure } from "@mail/core/common/failure_model";
import { Message } from "@mail/core/common/message";
import { Notification } from "@mail/core/common/notification_model";

import { toRaw } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { patch } from "@web/core/utils/patch";

/** WhatsApp messages posted from Odoo show their delivery status next to them in the chatter. */
patch(Notification.prototype, {
    get icon() {
        if (this.notification_type === "whatsapp") {
            return this.isFailure ? "fa fa-whatsapp text-danger" : "fa fa-whatsapp";
        }
        return super.icon;
    },
    get label() {
        if (this.notification_type === "whatsapp") {
            return _t("WhatsApp: %(status)s", { status: this.statusTitle });
        }
        return super.label;
    },
    get statusTitle() {
        if (this.notification_type === "whatsapp" && this.notification_status === "process") {
            return _t("Queued");
        }
        return super.statusTitle;
    },
});

patch(Failure.prototype, {
    get body() {
        if (this.type === "whatsapp") {
            return _t("A WhatsApp message could not be delivered");
        }
        return super.body;
    },
});

patch(Message.prototype, {
    onClickFailure(ev) {
        // nothing to resend by email: show who it went to and why it failed
        const message = toRaw(this.message);
        if (message.notifications[0]?.notification_type === "whatsapp") {
            this.popover.open(ev.target, { message });
            return;
        }
        super.onClickFailure(...arguments);
    },
});
