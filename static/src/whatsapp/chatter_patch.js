import { Chatter } from "@mail/chatter/web_portal/chatter";

import { patch } from "@web/core/utils/patch";

/** "WhatsApp" and "MMS" buttons in the chatter of records with a number: open the composer. */
patch(Chatter.prototype, {
    get commWhatsappAvailable() {
        return Boolean(this.state.thread?.id && this.state.thread.commWhatsappNumber);
    },

    get commMmsAvailable() {
        return Boolean(this.commWhatsappAvailable && this.state.thread.commMms);
    },

    async onClickCommWhatsapp() {
        await this.openCommComposer("comm_gateway.comm_whatsapp_composer_action");
    },

    async onClickCommMms() {
        await this.openCommComposer("comm_gateway.comm_mms_composer_action");
    },

    async openCommComposer(action) {
        const thread = this.state.thread;
        await this.env.services.action.doAction(action, {
            additionalContext: { default_res_model: thread.model, default_res_id: thread.id },
            onClose: () => this.load(thread, ["messages", "attachments"]),
        });
    },
});
