/** @odoo-module **/
import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("comm_send_batch_tour", {
    steps: () => [
        {
            content: "The bulk send waiting for approval is listed",
            trigger: ".o_list_view .o_data_row:contains('bulk_agent'):contains('To approve')",
        },
        {
            content: "Open it",
            trigger: ".o_list_view .o_data_row:contains('bulk_agent') .o_data_cell[name='recipient_count']",
            run: "click",
        },
        {
            content: "The approver sees the template, the count and the cost estimate",
            trigger: ".o_form_view .o_field_widget[name='cost_estimate']:contains('Total: 0.10')",
        },
        {
            trigger: ".o_form_view .o_field_widget[name='template_name']:contains('hello')",
        },
        {
            content: "Approve",
            trigger: ".o_form_view button[name='action_approve']",
            run: "click",
        },
        {
            content: "Approved: the messages are on their way",
            trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains('Approved')",
        },
        {
            trigger: ".o_form_view .o_field_widget[name='comm_message_ids'] .o_data_row:contains('To send')",
        },
    ],
});
