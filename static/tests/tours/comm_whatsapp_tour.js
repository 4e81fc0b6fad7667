/** @odoo-module **/
import { registry } from "@web/core/registry";

const BODY = "Hello from the WhatsApp tour";

registry.category("web_tour.tours").add("comm_whatsapp_tour", {
    steps: () => [
        {
            content: "The contact has a number: its chatter offers WhatsApp",
            trigger: ".o-mail-Chatter-commWhatsapp",
            run: "click",
        },
        {
            content: "The composer says the 24-hour window is open",
            trigger: ".modal .o_comm_wa_window_open:contains('wrote in the last 24 hours')",
        },
        {
            trigger: ".modal .o_field_widget[name='body'] textarea",
            run: `edit ${BODY}`,
        },
        {
            content: "Send",
            trigger: ".modal button[name='action_send']",
            run: "click",
        },
        {
            content: "The message is in the chatter, queued",
            trigger: `.o-mail-Message:contains('${BODY}') .o-mail-Message-notification:contains('Queued')`,
        },
    ],
});

registry.category("web_tour.tours").add("comm_whatsapp_delivered_tour", {
    steps: () => [
        {
            content: "The message shows it was delivered",
            trigger: `.o-mail-Message:contains('${BODY}') .o-mail-Message-notification:contains('Delivered')`,
        },
        {
            content: "The (simulated) reply is in the same chatter",
            trigger: ".o-mail-Message:contains('Thanks, got it!')",
        },
    ],
});
