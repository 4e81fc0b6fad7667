import { Chatter } from "@mail/chatter/web_portal/chatter";

import { patch } from "@web/core/utils/patch";

/** A "WhatsApp" button in the chatter of records with a number: opens the WhatsApp composer. */
patch(Chatter.prototype, {
    get commWhatsappAvailable() {
        return Boolean(this.state.thread?.id && this.state.thread.commWhatsappNumber);
    },

    async onClickCommWhatsapp() {
        const thread = this.state.thread;
        await this.env.services.action.doAction("comm_gateway.comm_whatsapp_composer_action", {
            additionalContext: { default_res_model: thread.model, default_res_id: thread.id },
            onClose: () => this.load(thread, ["messages", "attachments"]),
        });
    },
});
