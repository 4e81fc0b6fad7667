/** @odoo-module **/

import { _t } from "@web/core/l10n/translation";
import { user } from "@web/core/user";
import { useService } from "@web/core/utils/hooks";
import { Component, onWillStart, status } from "@odoo/owl";

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
        this.title = _t("Call through your phone");
        onWillStart(async () => {
            this.canCall = await user.hasGroup("comm_gateway.group_comm_user");
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
