/** @odoo-module **/
import { registry } from "@web/core/registry";

/* Contacts from unknown numbers: the "To review" filter shows the two contacts created from
   messages; one is marked reviewed; the other, a duplicate, is merged into the existing contact
   (Action → Merge). The test then checks its messages and calls moved. */
registry.category("web_tour.tours").add("comm_gateway_contact_review_tour", {
    steps: () => [
        {
            content: "Open the filters",
            trigger: ".o_searchview_dropdown_toggler",
            run: "click",
        },
        {
            trigger: ".o_filter_menu .o-dropdown-item:contains('To review')",
            run: "click",
        },
        {
            content: "Only the two contacts created from messages",
            trigger: ".o_list_renderer:has(.o_data_row:contains('Léa')):has(.o_data_row:contains('Noé')):not(:has(.o_data_row:contains('Bernard')))",
        },
        {
            trigger: ".o_data_row:contains('Léa') td.o_data_cell[name='complete_name']",
            run: "click",
        },
        {
            content: "The form says where the contact came from",
            trigger: ".o_form_view .alert:contains('unknown number') button[name='action_comm_mark_reviewed']",
            run: "click",
        },
        {
            content: "Reviewed: the banner is gone",
            trigger: ".o_form_view:not(:has(button[name='action_comm_mark_reviewed']))",
        },
        {
            content: "Back to the list",
            trigger: ".o_breadcrumb .breadcrumb-item a",
            run: "click",
        },
        {
            content: "Léa left the filter",
            trigger: ".o_list_renderer:has(.o_data_row:contains('Noé')):not(:has(.o_data_row:contains('Léa')))",
        },
        {
            content: "Remove the filter",
            trigger: ".o_searchview_facet:contains('To review') .o_facet_remove",
            run: "click",
        },
        {
            trigger: ".o_data_row:contains('Noé Bernard') .o_list_record_selector input",
            run: "click",
        },
        {
            content: "The duplicate created from a message",
            trigger: ".o_data_row:contains('Noé'):not(:contains('Bernard')) .o_list_record_selector input",
            run: "click",
        },
        {
            trigger: ".o_control_panel .o_cp_action_menus .dropdown-toggle",
            run: "click",
        },
        {
            trigger: ".o-dropdown--menu .o-dropdown-item:contains('Merge')",
            run: "click",
        },
        {
            content: "Keep the existing contact",
            trigger: ".modal .o_field_widget[name='dst_partner_id'] input",
            run: "edit Bernard",
        },
        {
            trigger: ".o-autocomplete--dropdown-item:contains('Noé Bernard')",
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name='dst_partner_id'] input:value(Noé Bernard)",
        },
        {
            trigger: ".modal button[name='action_merge']",
            run: "click",
        },
        {
            content: "Merged",
            trigger: ".modal button:contains('Close')",
            run: "click",
        },
        {
            trigger: "body:not(:has(.modal))",
        },
    ],
});

/* Field mapping: an administrator maps Twilio's FromCity to the contact's City, lowercased, on
   the account. The test then posts a signed inbound webhook and runs the queue. */
registry.category("web_tour.tours").add("comm_gateway_field_mapping_tour", {
    steps: () => [
        {
            trigger: ".o_notebook a:contains('Field mapping')",
            run: "click",
        },
        {
            trigger: ".o_field_widget[name='field_mapping_ids'] .o_field_x2many_list_row_add a",
            run: "click",
        },
        {
            trigger: ".o_field_widget[name='field_mapping_ids'] .o_data_row .o_field_widget[name='source'] input",
            run: "edit FromCity",
        },
        {
            content: "Copied to the contact (the default)",
            trigger: ".o_field_widget[name='field_mapping_ids'] .o_data_row .o_field_widget[name='target_model'] select",
            run: 'select "res.partner"',
        },
        {
            trigger: ".o_field_widget[name='field_mapping_ids'] .o_data_row .o_field_widget[name='target_field_id'] input",
            run: "edit City",
        },
        {
            trigger: ".o-autocomplete--dropdown-item:contains('City')",
            run: "click",
        },
        {
            trigger: ".o_field_widget[name='field_mapping_ids'] .o_data_row .o_field_widget[name='transform'] select",
            run: 'select "lower"',
        },
        {
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "Saved",
            trigger: ".o_form_status_indicator_buttons.invisible:not(:visible)",
        },
        {
            trigger: ".o_field_widget[name='field_mapping_ids'] .o_data_row:contains('FromCity'):contains('Lowercase')",
        },
    ],
});
