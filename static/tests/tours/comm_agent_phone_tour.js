/** @odoo-module **/
import { registry } from "@web/core/registry";

/* The first click-to-call of an agent without a phone for calls: asked, saved, called. */

registry.category("web_tour.tours").add("comm_agent_phone_tour", {
    steps: () => [
        {
            trigger: ".o_field_widget[name='mobile'] input",
            run: "click",
        },
        {
            content: "Call the contact's mobile",
            trigger: ".o_field_widget[name='mobile'] .o_field_phone_comm_call",
            run: "click",
        },
        {
            content: "No phone for calls yet: a dialog asks for it, not an error",
            trigger: ".modal .o_field_widget[name='phone'] input",
            run: "edit +1 415 555 0111",
        },
        {
            trigger: ".modal-footer button[name='action_save_and_call']",
            run: "click",
        },
        {
            content: "The call goes on: the agent's phone rings first",
            trigger: ".o_notification:contains('rings first')",
        },
        {
            content: "The dialog is closed",
            trigger: "body:not(:has(.modal .o_field_widget[name='phone']))",
        },
    ],
});
