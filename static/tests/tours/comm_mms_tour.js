/** @odoo-module **/
import { registry } from "@web/core/registry";

const BODY = "Hello from the MMS tour";

registry.category("web_tour.tours").add("comm_mms_tour", {
    steps: () => [
        {
            content: "The company has an account that sends MMS: the chatter offers MMS",
            trigger: ".o-mail-Chatter-commMms",
            run: "click",
        },
        {
            content: "The composer is on the MMS channel",
            trigger: ".modal .o_comm_mms_hint:contains('Text and pictures in one message')",
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
            content: "The MMS is in the chatter, queued",
            trigger: `.o-mail-Message:contains('${BODY}') .o-mail-Message-notification:contains('Queued')`,
        },
    ],
});
