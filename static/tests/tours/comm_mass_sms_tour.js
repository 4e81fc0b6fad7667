/** @odoo-module **/
import { registry } from "@web/core/registry";

/* Mass SMS from the contacts list: select three, Action → Send SMS, Put in queue; a contact's
   chatter logs it. The test then waits for every SMS to be delivered through the Sandbox, as the
   queue and its crons run. */

registry.category("web_tour.tours").add("comm_mass_sms_tour", {
    steps: () => [
        {
            trigger: ".o_searchview_input",
            run: "edit Mass Sale",
        },
        {
            trigger: ".o_searchview_input",
            run: "press Enter",
        },
        {
            content: "Only the three contacts of the sale",
            trigger: ".o_list_renderer:not(:has(.o_data_row:not(:contains('Mass Sale'))))",
        },
        {
            trigger: ".o_list_renderer thead .o_list_record_selector input",
            run: "click",
        },
        {
            content: "The list's Action menu",
            trigger: ".o_control_panel .o_cp_action_menus .dropdown-toggle",
            run: "click",
        },
        {
            trigger: ".o-dropdown--menu .o-dropdown-item:contains('Send SMS')",
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name='body'] textarea",
            run: "edit Our sale starts today",
        },
        {
            content: "Odoo's own mass SMS button",
            trigger: ".modal-footer button:contains('Put in queue')",
            run: "click",
        },
        {
            content: "The composer closed: the SMS are queued",
            trigger: "body:not(:has(.modal))",
        },
        {
            content: "The list reloaded after the send (the selection is gone)",
            trigger: ".o_list_renderer thead .o_list_record_selector input:not(:checked)",
        },
        {
            trigger: ".o_data_row:contains('Mass Sale 2') td.o_data_cell[name='complete_name']",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_field_widget[name='name'] input:value(Mass Sale 2), .o_form_view .o_field_widget[name='name']:contains('Mass Sale 2')",
        },
        {
            content: "The contact's chatter logs the SMS of the mass send",
            trigger: ".o-mail-Message:contains('Our sale starts today')",
        },
    ],
});
