import { Failure } from "@mail/core/common/failure_model";
import { Message } from "@mail/core/common/message";
import { Notification } from "@mail/core/common/notification_model";

import { toRaw } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { patch } from "@web/core/utils/patch";

/** Icon and label of the delivery status of the WhatsApp messages and MMS posted from Odoo. */
const COMM_TYPES = {
    whatsapp: { icon: "fa fa-whatsapp", label: (status) => _t("WhatsApp: %(status)s", { status }) },
    mms: { icon: "fa fa-picture-o", label: (status) => _t("MMS: %(status)s", { status }) },
};

/** WhatsApp messages and MMS posted from Odoo show their delivery status next to them in the chatter. */
patch(Notification.prototype, {
    get icon() {
        const type = COMM_TYPES[this.notification_type];
        if (type) {
            return this.isFailure ? `${type.icon} text-danger` : type.icon;
        }
        return super.icon;
    },
    get label() {
        const type = COMM_TYPES[this.notification_type];
        if (type) {
            return type.label(this.statusTitle);
        }
        return super.label;
    },
    get statusTitle() {
        if (COMM_TYPES[this.notification_type] && this.notification_status === "process") {
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
        if (this.type === "mms") {
            return _t("An MMS could not be delivered");
        }
        return super.body;
    },
});

patch(Message.prototype, {
    onClickFailure(ev) {
        // nothing to resend by email: show who it went to and why it failed
        const message = toRaw(this.message);
        if (COMM_TYPES[message.notifications[0]?.notification_type]) {
            this.popover.open(ev.target, { message });
            return;
        }
        super.onClickFailure(...arguments);
    },
});
