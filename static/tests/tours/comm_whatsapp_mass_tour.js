/** @odoo-module **/
import { registry } from "@web/core/registry";

/* Mass WhatsApp: select records in a list, Action → Send WhatsApp, a template, a summary. */

registry.category("web_tour.tours").add("comm_whatsapp_mass_tour", {
    steps: () => [
        {
            trigger: ".o_data_row:contains('Ann Example') .o_list_record_selector input",
            run: "click",
        },
        {
            trigger: ".o_data_row:contains('Ann Nophone') .o_list_record_selector input",
            run: "click",
        },
        {
            content: "The list's Action menu",
            trigger: ".o_control_panel .o_cp_action_menus .dropdown-toggle",
            run: "click",
        },
        {
            trigger: ".o-dropdown--menu .o-dropdown-item:contains('Send WhatsApp')",
            run: "click",
        },
        {
            content: "The composer says it goes to each selected record",
            trigger: ".modal .o_comm_wa_mass:contains('2')",
        },
        {
            trigger: ".modal .o_field_widget[name='template_id'] input",
            run: "edit order_shipped",
        },
        {
            trigger: ".o-autocomplete--dropdown-item:contains('order_shipped')",
            run: "click",
        },
        {
            content: "The preview of the template",
            trigger: ".modal .o_comm_wa_preview:contains('your order shipped')",
        },
        {
            trigger: ".modal-footer button[name='action_send']",
            run: "click",
        },
        {
            content: "A summary: one queued, one without a number",
            trigger: ".o_notification:contains('1 queued, 1 without a number')",
        },
    ],
});
