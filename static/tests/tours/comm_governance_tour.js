/** @odoo-module **/
import { registry } from "@web/core/registry";

registry.category("web_tour.tours").add("comm_gateway_consent_erase_tour", {
    steps: () => [
        {
            content: "The contact's form is loaded",
            trigger: ".o_form_view .o_notebook .nav-link:contains('Communications'):visible",
        },
        {
            content: "Open the Consent tab",
            trigger: ".o_notebook a:contains('Consent')",
            run: "click",
        },
        {
            content: "The opt-out made by hand is in the trail",
            trigger: ".o_field_widget[name='comm_consent_event_ids'] .o_data_row:contains('Opted out'):contains('By hand')",
        },
        {
            content: "Open the Communications tab",
            trigger: ".o_notebook a:contains('Communications')",
            run: "click",
        },
        {
            content: "The message is listed",
            trigger: ".o_field_widget[name='comm_history_ids'] .o_data_row:contains('SMS')",
        },
        {
            content: "Erase the contact's communications",
            trigger: "button[name='action_comm_erase']",
            run: "click",
        },
        {
            content: "Confirm: it cannot be undone",
            trigger: ".modal:contains('cannot be undone') .modal-footer button.btn-primary",
            run: "click",
        },
        {
            content: "Done, with what was anonymized",
            trigger: ".o_notification:contains('1 message(s)')",
        },
        {
            content: "The erasure is noted on the contact (who, how many)",
            trigger: ".o-mail-Message:contains('Communications erased by')",
        },
    ],
});

registry.category("web_tour.tours").add("comm_gateway_retention_preview_tour", {
    steps: () => [
        {
            content: "WhatsApp texts are kept 30 days",
            trigger: "#comm_retention .o_field_widget[name='comm_keep_whatsapp_days'] input:value(30)",
        },
        {
            content: "Open the preview",
            trigger: "#comm_retention button:contains('Preview the next purge')",
            run: "click",
        },
        {
            content: "The old WhatsApp text is counted",
            trigger: ".modal .o_field_widget[name='body_whatsapp']:contains('1')",
        },
        {
            content: "Close",
            trigger: ".modal .modal-footer button:contains('Close')",
            run: "click",
        },
        {
            content: "Back on the settings",
            trigger: "body:not(:has(.modal)) #comm_retention",
        },
    ],
});
