/** @odoo-module **/
import { registry } from "@web/core/registry";

/* Drafting a WhatsApp template: a variable row per {{n}} as it is typed, a field picker for each. */

function pickField(position, fieldName) {
    return [
        {
            trigger: `.o_field_widget[name='variable_ids'] .o_data_row:contains('{{${position}}}') td[name='field_path']`,
            run: "click",
        },
        {
            content: `The field picker of {{${position}}}, once its row is being edited`,
            trigger: `.o_data_row.o_selected_row:contains('{{${position}}}') td[name='field_path'] .o_model_field_selector.o_edit_mode`,
            run: "click",
        },
        {
            trigger: `.o_model_field_selector_popover_item[data-name='${fieldName}'] .o_model_field_selector_popover_item_name`,
            run: "click",
        },
    ];
}

registry.category("web_tour.tours").add("comm_template_draft_tour", {
    steps: () => [
        {
            trigger: ".o_list_button_add",
            run: "click",
        },
        {
            trigger: ".o_field_widget[name='name'] input",
            run: "edit order_ready",
        },
        {
            trigger: ".o_field_widget[name='body'] textarea",
            run: "edit Hi {{1}}",
        },
        {
            content: "A row for {{1}}",
            trigger: ".o_field_widget[name='variable_ids'] .o_data_row:contains('{{1}}')",
        },
        {
            trigger: ".o_field_widget[name='body'] textarea",
            run: "edit Hi {{1}}, your order {{2}} is ready",
        },
        {
            content: "A row for {{2}} too",
            trigger: ".o_field_widget[name='variable_ids'] .o_data_row:contains('{{2}}')",
        },
        ...pickField(1, "name"),
        ...pickField(2, "ref"),
        {
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "Saved; the preview names the bound fields",
            trigger: ".o_form_saved .o_field_widget[name='preview']:contains('Hi [name], your order [ref] is ready')",
        },
    ],
});
