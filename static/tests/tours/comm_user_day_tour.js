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

/** From an open contact: an SMS through Odoo's composer, delivered, and the Sandbox's reply, live. */
function smsFromTheChatter() {
    return [
        {
            trigger: ".o_field_widget[name='mobile'] input",
            run: "click",
        },
        {
            content: "Open Odoo's SMS composer from the contact's mobile",
            trigger: ".o_field_widget[name='mobile'] .o_field_phone_sms",
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name='body'] textarea",
            run: "edit Your table is ready",
        },
        {
            trigger: ".modal-footer button[name='action_send_sms']:visible",
            run: "click",
        },
        {
            content: "The reply appears in the open chatter, without reload",
            trigger: ".o-mail-Message:contains('Thanks, got it!')",
            timeout: 5000,
        },
        {
            content: "The reply shows the channel it came by, not e-mail statuses",
            trigger: ".o-mail-Message:contains('Thanks, got it!'):not(:has(.o-mail-Message-notification)) .o-mail-Message-commInbound[title='Received via SMS'] .fa-mobile",
        },
        {
            content: "The SMS status icon moved to delivered, without reload",
            trigger: ".o-mail-Message:contains('Your table is ready') .o-mail-Message-notification .fa-check, .o-mail-Message:contains('Your table is ready') .o-mail-Message-notification:not(:has(.fa-hourglass-half))",
            run: "click",
        },
        {
            trigger: ".o-mail-MessageNotificationPopover i[title='Delivered']",
        },
    ];
}

registry.category("web_tour.tours").add("comm_live_chatter_tour", {
    steps: () => smsFromTheChatter(),
});

/* The README's first look, on the demo data: a contact in the Contacts app, the SMS link next to
 * its mobile, Send SMS; delivered, and the simulated reply below it. */
registry.category("web_tour.tours").add("comm_first_look_tour", {
    steps: () => [
        {
            content: "In the Contacts app",
            trigger: ".o_main_navbar .o_menu_brand:contains('Contacts')",
        },
        {
            content: "Camille Martin, her mobile as the demo data writes it",
            trigger: ".o_form_view .o_field_widget[name='mobile'] input:value(06 12 34 56 78)",
        },
        ...smsFromTheChatter(),
        {
            content: "Nothing left loading (the README's screenshot is taken here)",
            trigger: "body:not(:has(.o_loading_indicator))",
        },
    ],
});

registry.category("web_tour.tours").add("comm_mms_failure_tour", {
    steps: () => [
        {
            content: "The failed MMS is flagged in the chatter",
            trigger: ".o-mail-Message:contains('Your new kitchen') .o-mail-Message-notification.text-danger",
            run: "click",
        },
        {
            content: "The popover says why, in the provider's words",
            trigger: ".o-mail-MessageNotificationPopover .o-comm-failure-reason:contains('Unreachable handset')",
        },
        {
            content: "The messaging menu lists the failure after a reload too",
            trigger: ".o_menu_systray i[aria-label='Messages']",
            run: "click",
        },
        {
            content: "Named after the record, with the reason",
            trigger: ".o-mail-NotificationItem:contains('MMS failure: Nobody Home'):contains('Unreachable handset')",
        },
    ],
});

registry.category("web_tour.tours").add("comm_wa_window_closed_tour", {
    steps: () => [
        {
            trigger: ".o-mail-Chatter-commWhatsapp",
            run: "click",
        },
        {
            content: "The composer says the window is closed",
            trigger: ".modal .o_comm_wa_window_closed:contains('has not written in the last 24 hours')",
        },
        {
            content: "It asks for a template, not for free text",
            trigger: ".modal .o_field_widget[name='template_id'] input[placeholder*='window is closed']",
        },
        {
            content: "No attachments: only a template can go",
            trigger: ".modal .o_form_view:not(:has(.o_field_widget[name='attachment_ids'])):not(:has(input[placeholder*='window is open']))",
        },
        {
            content: "Send without a template",
            trigger: ".modal button[name='action_send']",
            run: "click",
        },
        {
            content: "The reason, not 'Invalid fields: Template'",
            trigger: ".modal .modal-body:contains('has not written in the last 24 hours'):contains('template')",
        },
        {
            trigger: "body:not(:has(.o_notification:contains('Invalid fields')))",
        },
    ],
});

registry.category("web_tour.tours").add("comm_retry_tour", {
    steps: () => [
        {
            content: "Messages: the failed one is listed",
            trigger: ".o_data_row:contains('+32470123456')",
        },
        {
            trigger: ".o_switch_view.o_graph",
            run: "click",
        },
        {
            trigger: ".o_graph_renderer",
        },
        {
            trigger: ".o_switch_view.o_pivot",
            run: "click",
        },
        {
            trigger: ".o_pivot",
        },
        {
            trigger: ".o_switch_view.o_calendar",
            run: "click",
        },
        {
            trigger: ".o_calendar_renderer",
        },
        {
            trigger: ".o_switch_view.o_list",
            run: "click",
        },
        {
            content: "Open the failed message",
            trigger: ".o_data_row:contains('+32470123456') td[name='to_number']",
            run: "click",
        },
        {
            content: "It says how sending went",
            trigger: ".o_form_view .o_field_widget[name='attempts']:contains('6')",
        },
        {
            trigger: ".o_form_view .o_field_widget[name='error_message']:contains('Timeout')",
        },
        {
            content: "Retry now",
            trigger: ".o_form_view button[name='action_retry_now']",
            run: "click",
        },
        {
            trigger: ".o_notification:contains('sent again')",
        },
        {
            content: "Queued again, with Cancel offered",
            trigger: ".o_form_view button[name='action_cancel']",
        },
    ],
});
