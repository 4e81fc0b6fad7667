/** @odoo-module **/
import { registry } from "@web/core/registry";

/* The conversation with a number: from the systray's unread counter to a reply, live. */

registry.category("web_tour.tours").add("comm_conversation_tour", {
    steps: () => [
        {
            content: "The systray counts the unread inbound message",
            trigger: ".o_comm_inbox_menu .o_comm_inbox_counter:contains(1)",
            run: "click",
        },
        {
            content: "The dropdown lists the conversation with unread messages",
            trigger: ".o_comm_inbox_item:contains('Ines Costa'):contains('Is my table ready?')",
            run: "click",
        },
        {
            content: "Every message with the number, in and out, in order",
            trigger: ".o_comm_conversation_message.o_comm_out:contains('We saved you a table') ~ .o_comm_conversation_message.o_comm_in:contains('Is my table ready?')",
        },
        {
            content: "Opened: marked read, the counter is gone",
            trigger: ".o_comm_inbox_menu:not(:has(.o_comm_inbox_counter))",
        },
        {
            content: "The reply box says how the reply goes",
            trigger: ".o_comm_reply_body[placeholder*='SMS'][placeholder*='Sandbox']",
            run: "edit Yes, see you at 8",
        },
        {
            trigger: ".o_comm_reply_send:enabled",
            run: "click",
        },
        {
            content: "Our reply is in the thread",
            trigger: ".o_comm_out:contains('Yes, see you at 8')",
        },
        {
            content: "The Sandbox's answer appears without reload, and our reply is delivered",
            trigger: ".o_comm_out:contains('Yes, see you at 8') .o_comm_state[data-state='delivered']",
            timeout: 10000,
        },
        {
            trigger: ".o_comm_out:contains('Yes, see you at 8') ~ .o_comm_in:contains('Thanks, got it!')",
            timeout: 10000,
        },
    ],
});

registry.category("web_tour.tours").add("comm_inbox_tour", {
    steps: () => [
        {
            content: "Unread inbound messages of two numbers",
            trigger: ".o_comm_inbox_menu .o_comm_inbox_counter:contains(3)",
            run: "click",
        },
        {
            trigger: ".o_comm_inbox_item:contains('Ines Costa'):contains(2)",
        },
        {
            trigger: ".o_comm_inbox_item:contains('Lukas Weber'):contains('Can I change the date?')",
        },
    ],
});
