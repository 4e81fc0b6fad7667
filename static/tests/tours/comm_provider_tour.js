/** @odoo-module **/
import { registry } from "@web/core/registry";

const SECRET = "tour-auth-token-51f0";

registry.category("web_tour.tours").add("comm_gateway_provider_tour", {
    url: "/odoo/settings",
    steps: () => [
        {
            content: "Open the Communications settings",
            trigger: ".settings_tab .tab[data-key='comm_gateway']",
            run: "click",
        },
        {
            content: "The block offers the provider accounts",
            trigger: ".app_settings_block[data-key='comm_gateway'] button:contains('Provider Accounts')",
            run: "click",
        },
        {
            content: "Create an account",
            trigger: ".o_list_button_add",
            run: "click",
        },
        {
            trigger: ".o_field_widget[name='name'] input",
            run: "edit Twilio US",
        },
        {
            content: "Choose Twilio",
            trigger: ".o_field_widget[name='code'] input[data-value='twilio']",
            run: "click",
        },
        {
            trigger: ".o_field_widget[name='twilio_account_sid'] input",
            run: "edit AC0123456789abcdef0123456789abcdef",
        },
        {
            trigger: ".o_field_widget[name='twilio_auth_token'] input[type='password']",
            run: `edit ${SECRET}`,
        },
        {
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "Saved: the record has an id, so Test connection shows",
            trigger: ".o_form_view button[name='action_test_connection']",
        },
        {
            content: "The secret is masked, never shown back",
            trigger: ".o_field_widget[name='twilio_auth_token'] input[type='password']",
            run() {
                if (this.anchor.value.includes(SECRET)) {
                    throw new Error("the auth token came back to the browser");
                }
                if (this.anchor.value !== "••••••••") {
                    throw new Error("the auth token does not show as set (masked)");
                }
            },
        },
        {
            content: "Open the webhook URLs",
            trigger: ".o_notebook a:contains('Webhooks')",
            run: "click",
        },
        {
            content: "The inbound URL is shown with a copy button",
            trigger: ".o_field_widget[name='webhook_url_inbound']:contains('/comm/webhook/') button, .o_field_widget[name='webhook_url_inbound'] .o_clipboard_button",
        },
        {
            content: "The status callback URL is shown",
            trigger: ".o_field_widget[name='webhook_url_status']:contains('/status')",
        },
    ],
});
