/** @odoo-module **/
import { registry } from "@web/core/registry";

/* Drafting a WhatsApp template: the only account chosen, a readable breadcrumb, a variable row per
 * {{n}} as it is typed, a field picker for each, and nothing saved that Meta would refuse. */

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

function typeSample(position, sample) {
    return [
        {
            trigger: `.o_field_widget[name='variable_ids'] .o_data_row:contains('{{${position}}}') td[name='sample']`,
            run: "click",
        },
        {
            trigger: `.o_data_row.o_selected_row:contains('{{${position}}}') td[name='sample'] input`,
            run: `edit ${sample}`,
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
            content: "A new template's breadcrumb says what it is",
            trigger: ".o_last_breadcrumb_item:contains('New WhatsApp template')",
        },
        {
            content: "The only WhatsApp account is chosen",
            trigger: ".o_field_widget[name='provider_id'] input:value(Sandbox)",
        },
        {
            trigger: ".o_field_widget[name='name'] input",
            run: "edit Order Ready",
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
        ...typeSample(1, "Ann"),
        ...pickField(2, "ref"),
        {
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "Not saved: Meta reviews a template with a sample of each variable",
            trigger: ".o_notification:contains('Invalid fields')",
        },
        ...typeSample(2, "#1042"),
        {
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "Not saved: Meta's rule for names, said in words",
            trigger: ".modal:contains('lower case letters, digits and underscores')",
        },
        {
            trigger: ".modal .modal-footer .btn-primary",
            run: "click",
        },
        {
            trigger: ".o_field_widget[name='name'] input",
            run: "edit order_ready",
        },
        {
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "Saved; the breadcrumb is the template's name and language, the preview shows the samples",
            trigger: ".o_form_saved .o_field_widget[name='preview']:contains('Hi Ann, your order #1042 is ready')",
        },
        {
            trigger: ".o_last_breadcrumb_item:contains('order_ready (en_US)')",
        },
    ],
});
