import { Component, onWillStart, onWillUnmount, useRef, useState } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";

import { COMM_INBOX_READ, useInboxRefresh } from "./inbox_refresh";

/**
 * The conversation with a number: every SMS, MMS and WhatsApp message in and out with it, oldest
 * at the top, and a reply box that sends on the conversation's channel and account (the server
 * decides: models/comm_conversation.py). The list on the left shows the conversations, unread
 * ones in bold. Both follow the inbox's bus notification, and are read with the user's rights.
 */
export class CommConversation extends Component {
    static template = "comm_gateway.Conversation";
    static props = ["*"];

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        this.notification = useService("notification");
        this.thread = useRef("thread");
        this.state = useState({
            conversations: [],
            number: this.props.action.params?.number || false,
            conversation: null,
            body: "",
            sending: false,
            search: "",
            hasMore: false,
        });
        this.idempotencyKey = crypto.randomUUID?.() || String(Math.random());
        onWillStart(() => this.load());
        useInboxRefresh(() => this.load(), ["comm_gateway.inbox/refresh", "comm_gateway.conversation/refresh"]);
        onWillUnmount(() => (this.unmounted = true));
    }

    /**
     * The conversations of the search, from the newest. ``more``: the next page after those shown;
     * ``refresh``: the first page again, the further pages shown staying below it.
     */
    async listConversations({ more = false, refresh = false } = {}) {
        const offset = more ? this.state.conversations.length : 0;
        const { conversations, has_more } = await this.orm.call("comm.message", "comm_conversation_list", [], {
            search: this.state.search,
            offset,
        });
        if (this.unmounted) {
            return;
        }
        if (more) {
            this.state.conversations = [...this.state.conversations, ...conversations];
            this.state.hasMore = has_more;
        } else if (refresh && this.state.conversations.length > conversations.length) {
            const fresh = new Set(conversations.map((c) => c.number));
            const below = this.state.conversations.filter((c) => !fresh.has(c.number));
            // as many as were shown: those pushed down by the fresh page are on the next one
            const shown = this.state.conversations.length;
            this.state.conversations = [...conversations, ...below.slice(0, shown - conversations.length)];
        } else {
            this.state.conversations = conversations;
            this.state.hasMore = has_more;
        }
    }

    async load() {
        await this.listConversations({ refresh: true });
        if (this.unmounted) {
            return;
        }
        const conversations = this.state.conversations;
        if (!this.state.number && conversations.length) {
            this.state.number = conversations[0].number;
        }
        if (this.state.number) {
            await this.open(this.state.number);
        }
    }

    onSearchKeydown(ev) {
        if (ev.key === "Enter") {
            ev.preventDefault();
            this.listConversations();
        }
    }

    async clearSearch() {
        this.state.search = "";
        await this.listConversations();
    }

    /** The page of messages before the oldest one shown, kept in view where the reader was. */
    async loadOlder() {
        const { number, messages } = this.state.conversation;
        const older = await this.orm.call("comm.message", "comm_conversation_open", [number], {
            before_id: messages[0].id,
        });
        // a refresh may have brought the newest page again meanwhile: the older ones go above it
        const conversation = this.state.conversation;
        if (this.unmounted || conversation?.number !== number) {
            return;
        }
        const first = conversation.messages[0]?.id;
        const el = this.thread.el;
        const fromBottom = el ? el.scrollHeight - el.scrollTop : 0;
        conversation.messages.unshift(...older.messages.filter((m) => m.id < first));
        conversation.has_older = older.has_older;
        requestAnimationFrame(() => {
            if (this.thread.el) {
                this.thread.el.scrollTop = this.thread.el.scrollHeight - fromBottom;
            }
        });
    }

    async open(number) {
        this.state.number = number; // the reader's choice at once: a refresh under way opens it too
        const conversation = await this.orm.call("comm.message", "comm_conversation_open", [number]);
        if (this.unmounted || this.state.number !== number) {
            return; // another conversation was chosen meanwhile
        }
        const shown = this.state.conversation;
        const first = conversation.messages[0]?.id;
        const older = shown?.number === number ? shown.messages.filter((m) => m.id < first) : [];
        if (older.length) {
            // what the reader saw above the newest page stays (a refresh brings that page again)
            conversation.messages.unshift(...older);
            conversation.has_older = shown.has_older;
        }
        this.state.conversation = conversation;
        this.env.bus.trigger(COMM_INBOX_READ); // this tab's counter at once (other tabs: the server's notification)
        const listed = this.state.conversations.find((c) => c.number === number);
        if (listed) {
            listed.unread = 0;
        }
        requestAnimationFrame(() => {
            const el = this.thread.el;
            if (el) {
                el.scrollTop = el.scrollHeight;
            }
        });
    }

    get canReply() {
        const reply = this.state.conversation?.reply;
        return Boolean(reply && reply.window_open);
    }

    async send() {
        if (!this.state.body.trim() || this.state.sending) {
            return;
        }
        this.state.sending = true;
        try {
            await this.orm.call("comm.message", "comm_conversation_reply", [
                this.state.conversation.number,
                this.state.body,
                this.idempotencyKey,
            ]);
            this.state.body = "";
            this.idempotencyKey = crypto.randomUUID?.() || String(Math.random());
            await this.load();
        } finally {
            this.state.sending = false;
        }
    }

    onKeydown(ev) {
        if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) {
            ev.preventDefault();
            this.send();
        }
    }

    async sendTemplate() {
        await this.action.doAction(this.state.conversation.reply.template_action, {
            onClose: () => this.load(),
        });
    }

    channelIcon(channel) {
        return { sms: "fa-mobile", mms: "fa-picture-o", whatsapp: "fa-whatsapp" }[channel] || "fa-comment";
    }

    get replyPlaceholder() {
        const reply = this.state.conversation?.reply;
        return reply
            ? _t("Reply by %(channel)s through %(account)s…", {
                  channel: reply.channel === "whatsapp" ? _t("WhatsApp") : _t("SMS"),
                  account: reply.account,
              })
            : "";
    }
}

registry.category("actions").add("comm_gateway.conversation", CommConversation);
