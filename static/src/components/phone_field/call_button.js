/** @odoo-module **/

import { _t } from "@web/core/l10n/translation";
import { session } from "@web/session";
import { useService } from "@web/core/utils/hooks";
import { Component, status } from "@odoo/owl";

/** Whether phone fields call through our voice account (the one call action) or Odoo's tel: link. */
export function commCanCall() {
    return Boolean(session.comm_gateway_call);
}

/**
 * "Call" next to a phone number: the provider rings the agent's own phone, then bridges to the
 * number (comm.call.action_click_to_call). The server answers at once with a notification.
 */
export class CommCallButton extends Component {
    static template = "comm_gateway.CommCallButton";
    static props = ["*"];

    setup() {
        this.action = useService("action");
        this.orm = useService("orm");
        this.canCall = commCanCall();
        this.title = _t("Call %(number)s: your phone for calls rings first, then the customer's", {
            number: this.props.record.data[this.props.name],
        });
    }

    async onClick() {
        const record = this.props.record;
        if (!(await record.save())) {
            return;
        }
        const notification = await this.orm.call("comm.call", "action_click_to_call", [
            record.data[this.props.name],
            record.resModel,
            record.resId || false,
        ]);
        await this.action.doAction(notification);
        if (status(this) !== "destroyed") {
            await record.load();
        }
    }
}
