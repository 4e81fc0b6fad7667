import { Component, onWillStart, useState } from "@odoo/owl";
import { useDiscussSystray } from "@mail/utils/common/hooks";
import { Dropdown } from "@web/core/dropdown/dropdown";
import { useDropdownState } from "@web/core/dropdown/dropdown_hooks";
import { registry } from "@web/core/registry";
import { user } from "@web/core/user";
import { useBus, useService } from "@web/core/utils/hooks";

import { COMM_INBOX_READ, useInboxRefresh } from "./inbox_refresh";

/**
 * The systray's count of unread inbound SMS, MMS and WhatsApp messages (those the user may read),
 * kept live by the inbox's bus notification; the dropdown lists the conversations with unread
 * messages and opens one (which marks it read).
 */
export class CommInboxMenu extends Component {
    static components = { Dropdown };
    static props = [];
    static template = "comm_gateway.InboxMenu";

    setup() {
        this.discussSystray = useDiscussSystray();
        this.orm = useService("orm");
        this.action = useService("action");
        this.dropdown = useDropdownState();
        this.state = useState({ allowed: false, unread: 0, conversations: [] });
        onWillStart(async () => {
            this.state.allowed = await user.hasGroup("comm_gateway.group_comm_user");
            if (this.state.allowed) {
                await this.load();
            }
        });
        useInboxRefresh(() => this.state.allowed && this.load());
        useBus(this.env.bus, COMM_INBOX_READ, () => this.state.allowed && this.load());
    }

    async load() {
        const { unread, conversations } = await this.orm.call(
            "comm.message", "comm_conversation_list", [], { unread_only: true }
        );
        Object.assign(this.state, { unread, conversations });
    }

    openConversation(number) {
        this.dropdown.close();
        this.action.doAction({
            type: "ir.actions.client",
            tag: "comm_gateway.conversation",
            name: "Conversations",
            params: { number },
        }, { clearBreadcrumbs: true });
    }
}

registry.category("systray").add("comm_gateway.inbox_menu", { Component: CommInboxMenu }, { sequence: 26 });
