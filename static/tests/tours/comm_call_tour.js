/** @odoo-module **/
import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("comm_gateway_call_tour", {
    steps: () => [
        {
            content: "No call yet",
            trigger: "button[name='action_view_comm_calls'] .o_stat_value:contains('0')",
        },
        {
            content: "The call button shows with the number's links (on hover or focus)",
            trigger: ".o_field_widget[name='mobile'] input",
            run: "click",
        },
        {
            content: "One call action per number: ours, not also Odoo's tel: link",
            trigger: ".o_field_widget[name='mobile']:not(:has(.o_phone_form_link)) .o_field_phone_comm_call[title*='rings first']",
        },
        {
            content: "Call the contact's mobile",
            trigger: ".o_field_widget[name='mobile'] .o_field_phone_comm_call",
            run: "click",
        },
        {
            content: "The agent's own phone rings first",
            trigger: ".o_notification:contains('rings first')",
        },
        {
            content: "The call is counted",
            trigger: "button[name='action_view_comm_calls'] .o_stat_value:contains('1')",
        },
        {
            content: "Open the Communications tab",
            trigger: ".o_notebook a:contains('Communications')",
            run: "click",
        },
        {
            content: "The call is logged",
            trigger: ".o_field_widget[name='comm_history_ids'] .o_data_row:contains('Call'):contains('Initiated')",
        },
    ],
});
