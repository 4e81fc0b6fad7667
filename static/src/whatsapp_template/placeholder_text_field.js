import { useEffect } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { TextField, textField } from "@web/views/fields/text/text_field";

const PLACEHOLDER = /{{\s*(\d+)\s*}}/g;

function placeholders(text) {
    return [...(text || "").matchAll(PLACEHOLDER)].map((match) => match[1]).join(",");
}

/**
 * A template body whose variable rows follow it as it is typed: when the set of {{n}} changes,
 * the value is sent to the form at once (the template's onchange adds or removes the rows),
 * without waiting for the field to be left.
 */
export class CommPlaceholderTextField extends TextField {
    setup() {
        super.setup();
        let last = placeholders(this.props.record.data[this.props.name]);
        useEffect(
            (el) => {
                if (!el) {
                    return;
                }
                const onInput = () => {
                    const now = placeholders(el.value);
                    if (now !== last) {
                        last = now;
                        this.props.record.update({ [this.props.name]: el.value });
                    }
                };
                el.addEventListener("input", onInput);
                return () => el.removeEventListener("input", onInput);
            },
            () => [this.textareaRef.el]
        );
    }
}

registry.category("fields").add("comm_placeholder_text", { ...textField, component: CommPlaceholderTextField });
