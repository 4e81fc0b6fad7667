import { Failure } from "@mail/core/common/failure_model";
import { Message } from "@mail/core/common/message";
import { Notification } from "@mail/core/common/notification_model";
import { MessagingMenu } from "@mail/core/public_web/messaging_menu";

import { toRaw } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { patch } from "@web/core/utils/patch";

/** Icon and label of the delivery status of the WhatsApp messages and MMS posted from Odoo. */
const COMM_TYPES = {
    whatsapp: {
        icon: "fa fa-whatsapp",
        label: (status) => _t("WhatsApp: %(status)s", { status }),
        failure: (record) => _t("WhatsApp failure: %(record)s", { record }),
    },
    mms: {
        icon: "fa fa-picture-o",
        label: (status) => _t("MMS: %(status)s", { status }),
        failure: (record) => _t("MMS failure: %(record)s", { record }),
    },
};

/** Why a message failed, in plain words, when the provider gave no text of its own. */
const FAILURE_WORDS = {
    sms_number_format: _t("The number is not valid."),
    sms_number_missing: _t("There is no number to send to."),
    sms_blacklist: _t("The number opted out (replied STOP)."),
    sms_credit: _t("The account has no credit left."),
    sms_acc: _t("The account is not set up: check its credentials."),
    sms_server: _t("The provider could not be reached."),
    sms_duplicate: _t("This message was already sent to the number."),
    sms_optout: _t("The number opted out (replied STOP)."),
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
    /** The provider's reason of a failure (``failure_reason``), else what the failure type means. */
    get commFailureText() {
        if (!this.isFailure && this.notification_status !== "canceled") {
            return "";
        }
        return (
            this.failure_reason ||
            FAILURE_WORDS[this.failure_type] ||
            _t("The provider gave no reason.")
        );
    },
});

patch(MessagingMenu.prototype, {
    getFailureNotificationName(failure) {
        const type = COMM_TYPES[failure.type];
        if (type) {
            const thread = failure.lastMessage?.thread;
            return type.failure(thread?.displayName || failure.modelName || "");
        }
        return super.getFailureNotificationName(...arguments);
    },
});

patch(Failure.prototype, {
    get body() {
        const reason = this.notifications.length === 1 ? this.notifications[0].commFailureText : "";
        if (this.type === "whatsapp") {
            return reason
                ? _t("A WhatsApp message could not be delivered: %(reason)s", { reason })
                : _t("WhatsApp messages could not be delivered");
        }
        if (this.type === "mms") {
            return reason
                ? _t("An MMS could not be delivered: %(reason)s", { reason })
                : _t("MMS could not be delivered");
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
