/** @odoo-module **/
import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("comm_contact_review_tour", {
    steps: () => [
        {
            content: "The message from an unknown number is listed for review",
            trigger: ".o_list_view .o_data_row:contains('+14155550177') .o_list_record_selector input",
            run: "click",
        },
        {
            content: "Re-attach it",
            trigger: ".o_control_panel button:contains('Re-attach')",
            run: "click",
        },
        {
            content: "The wizard says how many messages of the number move",
            trigger: ".modal .o_field_widget[name='numbers']:contains('+14155550177')",
        },
        {
            trigger: ".modal .o_field_widget[name='partner_id'] input",
            run: "edit Ann Review",
        },
        {
            trigger: ".o-autocomplete--dropdown-item:contains('Ann Review')",
            run: "click",
        },
        {
            trigger: ".modal button[name='action_apply']",
            run: "click",
        },
        {
            content: "Done: the messages are attached",
            trigger: ".o_notification:contains('attached to Ann Review')",
        },
    ],
});

registry.category("web_tour.tours").add("comm_reconcile_tour", {
    steps: () => [
        {
            trigger: ".o_menu_sections button:contains('Operations')",
            run: "click",
        },
        {
            trigger: ".dropdown-item:contains('Reconciliation')",
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name='provider_id'] input",
            run: "edit Twilio Ops",
        },
        {
            trigger: ".o-autocomplete--dropdown-item:contains('Twilio Ops')",
            run: "click",
        },
        {
            trigger: ".modal button[name='action_compare']",
            run: "click",
        },
        {
            content: "The inbound message Odoo missed is listed",
            trigger: ".modal .o_data_row:contains('At the provider, unknown in Odoo')",
        },
        {
            trigger: ".modal button[name='action_import_missing']",
            run: "click",
        },
        {
            content: "Compared again: nothing differs any more",
            trigger: ".modal .o_field_widget[name='line_ids']:not(:has(.o_data_row))",
        },
    ],
});
