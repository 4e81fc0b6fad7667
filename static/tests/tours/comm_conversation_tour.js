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

/* Conversations a page at a time, older messages on request, a search, and a reply to a number
 * that has neither contact nor document (pages of 1 conversation and 2 messages in this test). */
registry.category("web_tour.tours").add("comm_conversation_browse_tour", {
    steps: () => [
        {
            content: "The newest conversation, a number nobody knows; the others on request",
            trigger: ".o_comm_conversation_item[data-number='+32470999888'] ~ .o_comm_more_conversations",
        },
        {
            content: "No contact, no document: the reply still goes, to the number",
            trigger: ".o_comm_reply_notice:contains('stays in this conversation')",
        },
        {
            trigger: ".o_comm_reply_body[placeholder*='SMS']",
            run: "edit This is the bakery, about your cake",
        },
        {
            trigger: ".o_comm_reply_send:enabled",
            run: "click",
        },
        {
            content: "Delivered, in the conversation, and answered",
            trigger: ".o_comm_out:contains('This is the bakery') .o_comm_state[data-state='delivered']",
            timeout: 10000,
        },
        {
            trigger: ".o_comm_out:contains('This is the bakery') ~ .o_comm_in:contains('Thanks, got it!')",
            timeout: 10000,
        },
        {
            trigger: ".o_comm_more_conversations",
            run: "click",
        },
        {
            content: "The next page of conversations",
            trigger: ".o_comm_conversation_item:contains('Ines Costa')",
            run: "click",
        },
        {
            content: "The newest messages, and a way to the older ones",
            trigger: ".o_comm_conversation_thread:has(.o_comm_load_older):contains('And a high chair'):not(:contains('We saved you a table'))",
        },
        {
            trigger: ".o_comm_load_older",
            run: "click",
        },
        {
            content: "The older messages above, in order; nothing older left",
            trigger: ".o_comm_conversation_thread:not(:has(.o_comm_load_older)) .o_comm_conversation_message:contains('We saved you a table') ~ .o_comm_conversation_message:contains('And a high chair')",
        },
        {
            trigger: ".o_comm_search_input",
            run: "edit table ready",
        },
        {
            trigger: ".o_comm_search_button",
            run: "click",
        },
        {
            content: "Found by its text",
            trigger: ".o_comm_conversation_list:not(:has(.o_comm_conversation_item[data-number='+32470999888'])) .o_comm_conversation_item:contains('Ines Costa')",
        },
        {
            trigger: ".o_comm_search_input",
            run: "edit 470 999",
        },
        {
            trigger: ".o_comm_search_button",
            run: "click",
        },
        {
            content: "Found by its number, spaces ignored",
            trigger: ".o_comm_conversation_list:not(:has(.o_comm_conversation_item:contains('Ines Costa'))) .o_comm_conversation_item[data-number='+32470999888']",
        },
        {
            trigger: ".o_comm_search_input",
            run: "edit ines",
        },
        {
            trigger: ".o_comm_search_input",
            run: "press Enter",
        },
        {
            content: "Found by the contact's name",
            trigger: ".o_comm_conversation_list:not(:has(.o_comm_conversation_item[data-number='+32470999888'])) .o_comm_conversation_item:contains('Ines Costa')",
        },
    ],
});
