/** @odoo-module **/

import { _t } from "@web/core/l10n/translation";
import { patch } from "@web/core/utils/patch";
import { PhoneField, phoneField, formPhoneField } from "@web/views/fields/phone/phone_field";
import { CommCallButton, commCanCall } from "./call_button";

patch(PhoneField.prototype, {
    /** Odoo's own "Call" (tel:) link gives way to ours: one call action per number. */
    get commCallReplacesTel() {
        return Boolean(this.props.enableCall && commCanCall());
    },
});

patch(PhoneField, {
    components: {
        ...PhoneField.components,
        CommCallButton,
    },
    defaultProps: {
        ...PhoneField.defaultProps,
        enableCall: true,
    },
    props: {
        ...PhoneField.props,
        enableCall: { type: Boolean, optional: true },
    },
});

const patchDescr = (descr) => ({
    extractProps({ options }) {
        const props = super.extractProps(...arguments);
        props.enableCall = options.enable_call ?? true;
        return props;
    },
    supportedOptions: [
        ...(descr.supportedOptions || []),
        {
            label: _t("Enable calls"),
            name: "enable_call",
            type: "boolean",
            default: true,
        },
    ],
});

patch(phoneField, patchDescr(phoneField));
patch(formPhoneField, patchDescr(formPhoneField));
