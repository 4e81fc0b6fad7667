/** @odoo-module **/
import { registry } from "@web/core/registry";

/* The flows of a person's day: template sync, live chatter, call link, failures. */

registry.category("web_tour.tours").add("comm_template_sync_tour", {
    steps: () => [
        {
            content: "Sync from accounts, nothing selected",
            trigger: ".o_list_button_add ~ button[name='action_sync'], button[name='action_sync']",
            run: "click",
        },
        {
            content: "A summary, not a traceback",
            trigger: ".o_notification:contains('templates synced')",
        },
        {
            content: "The Sandbox's templates are listed",
            trigger: ".o_data_row:contains('appointment_reminder')",
        },
        {
            content: "Select one",
            trigger: ".o_data_row:contains('appointment_reminder') .o_list_record_selector input",
            run: "click",
        },
        {
            content: "Sync from accounts with a selection",
            trigger: ".o_control_panel_actions button[name='action_sync'], button[name='action_sync']",
            run: "click",
        },
        {
            trigger: ".o_notification:contains('templates synced')",
        },
    ],
});
