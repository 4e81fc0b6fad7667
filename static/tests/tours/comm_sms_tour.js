/** @odoo-module **/
import { registry } from "@web/core/registry";

const BODY = "Your parcel leaves today";

registry.category("web_tour.tours").add("comm_gateway_sms_tour", {
    steps: () => [
        {
            content: "The number's links show on focus",
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
            run: `edit ${BODY}`,
        },
        {
            content: "Send",
            trigger: ".modal-footer button[name='action_send_sms']:visible",
            run: "click",
        },
        {
            content: "The SMS is in the chatter at once (queued: nothing was sent inside the request)",
            trigger: `.o-mail-Message:contains('${BODY}') .o-mail-Message-notification`,
        },
    ],
});

registry.category("web_tour.tours").add("comm_gateway_sms_delivered_tour", {
    steps: () => [
        {
            content: "Open the SMS status",
            trigger: `.o-mail-Message:contains('${BODY}') .o-mail-Message-notification`,
            run: "click",
        },
        {
            content: "Delivered, as the Sandbox reported through its status webhooks",
            trigger: ".o-mail-MessageNotificationPopover i[title='Delivered']",
        },
        {
            content: "The (simulated) reply is in the same chatter",
            trigger: ".o-mail-Message:contains('Thanks, got it!')",
        },
    ],
});
